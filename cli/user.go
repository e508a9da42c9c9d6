package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/console"
)

// userCreate: facematch user create --org ORG_ID --email EMAIL [--admin] [--password-stdin].
// A console account (FM-CON-1); the generated password is printed once, none with
// --password-stdin.
func userCreate(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "user create")
	org := f.text("org", "organization id")
	email := f.text("email", "email the account logs in with")
	admin := f.switchArg("admin", "the account sees every organization, creates organizations and adds credits")
	fromStdin := f.switchArg("password-stdin", "read the password from the first line of stdin instead of generating one")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	if err := require("user create", map[string]string{"org": *org, "email": *email}); err != nil {
		return err
	}
	if !strings.Contains(*email, "@") {
		return usageErrorf("user create: --email %q is not an email address", *email)
	}
	password, shown := console.NewPassword(), true
	if *fromStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		password, shown = strings.TrimRight(line, "\r\n"), false
	}
	hash, err := console.HashPassword(password)
	if err != nil {
		return err
	}
	db, err := f.store().open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := db.CreateAccount(ctx, facematch.Account{OrgID: *org, Email: *email, Admin: *admin, PasswordHash: hash})
	if err != nil {
		return adminError(err)
	}
	out := map[string]any{"id": a.ID, "email": a.Email, "org": a.OrgID, "admin": a.Admin, "password": nil}
	if shown {
		out["password"] = password
	}
	return printJSON(c.stdout, out)
}
