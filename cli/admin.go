package cli

import (
	"context"
	"fmt"

	"github.com/facematch/facematch"
)

// orgCreate: facematch org create --name NAME [--credits N].
func orgCreate(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "org create")
	name := f.text("name", "name of the organization")
	credits := f.int64Arg("credits", 0, "initial credit balance")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	db, err := f.store().open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	o, err := db.CreateOrganization(ctx, *name, *credits)
	if err != nil {
		return adminError(err)
	}
	return printJSON(c.stdout, map[string]any{"id": o.ID, "name": o.Name, "credits": o.Credits})
}

// creditsAdd: facematch credits add --org ORG_ID --amount N (negative removes).
func creditsAdd(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "credits add")
	org := f.text("org", "organization id")
	amount := f.int64Arg("amount", 0, "credits to add; negative removes")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	if *org == "" || *amount == 0 {
		return usageErrorf("credits add needs --org and a non-zero --amount")
	}
	db, err := f.store().open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	o, err := db.AddCredits(ctx, *org, *amount)
	if err != nil {
		return adminError(err)
	}
	return printJSON(c.stdout, map[string]any{"org": o.ID, "credits": o.Credits})
}

// appCreate: facematch app create --org ORG_ID --name NAME [--sandbox].
func appCreate(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "app create")
	org := f.text("org", "organization id")
	name := f.text("name", "name of the application")
	sandboxMode := f.switchArg("sandbox", "a sandbox application: fixed answers, no credits, nothing stored")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	mode := facematch.ModeLive
	if *sandboxMode {
		mode = facematch.ModeSandbox
	}
	db, err := f.store().open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := db.CreateApplication(ctx, *org, *name, mode)
	if err != nil {
		return adminError(err)
	}
	return printJSON(c.stdout, map[string]any{"id": a.ID, "mode": a.Mode, "name": a.Name, "org": a.OrgID})
}

// keyCreate: facematch key create --app APP_ID. The key is printed once and stored as a hash.
func keyCreate(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "key create")
	app := f.text("app", "application id")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	db, err := f.store().open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	id, full, err := createKey(ctx, db, *app)
	if err != nil {
		return adminError(err)
	}
	return printJSON(c.stdout, map[string]any{"id": id, "key": full})
}

// createKey draws a key for an application and stores its hash.
func createKey(ctx context.Context, db facematch.Tenancy, appID string) (id, full string, err error) {
	app, err := db.Application(ctx, appID)
	if err != nil {
		return "", "", err
	}
	id, secret, full := facematch.NewAPIKey(app.Mode)
	if _, err := db.CreateAPIKey(ctx, facematch.APIKey{ID: id, AppID: appID, SecretHash: facematch.HashSecret(secret)}); err != nil {
		return "", "", err
	}
	return id, full, nil
}

// keyRevoke: facematch key revoke --id KEY_ID.
func keyRevoke(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "key revoke")
	id := f.text("id", "key id")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	db, err := f.store().open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RevokeAPIKey(ctx, *id); err != nil {
		return adminError(err)
	}
	return printJSON(c.stdout, map[string]any{"id": *id, "revoked": true})
}

// adminError words a domain error for the operator.
func adminError(err error) error {
	if code := facematch.ErrorCode(err); code != facematch.EINTERNAL {
		return fmt.Errorf("%s", facematch.ErrorMessage(err))
	}
	return err
}
