package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/facematch/facematch"
)

// openAdmin opens the store for the read and clean-up commands, which need its listing and
// purge methods; close closes it.
func openAdmin(ctx context.Context, f *flags) (_ facematch.Admin, close func(), err error) {
	db, err := f.store().open(ctx)
	if err != nil {
		return nil, nil, err
	}
	a, ok := db.(facematch.Admin)
	if !ok {
		db.Close()
		return nil, nil, errors.New("this store does not list or purge yet (it lacks facematch.Admin's methods); run the command on SQLite's --data")
	}
	return a, func() { db.Close() }, nil
}

// require refuses a command line that leaves out a flag the command cannot do without.
func require(cmd string, values map[string]string) error {
	for name, v := range values {
		if v == "" {
			return usageErrorf("%s needs --%s", cmd, name)
		}
	}
	return nil
}

// orgList: facematch org list, one organization per line.
func orgList(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "org list")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	db, closeDB, err := openAdmin(ctx, f)
	if err != nil {
		return err
	}
	defer closeDB()
	orgs, err := db.ListOrganizations(ctx)
	if err != nil {
		return adminError(err)
	}
	for _, o := range orgs {
		if err := printJSONLine(c.stdout, o); err != nil {
			return err
		}
	}
	return nil
}

// orgShow: facematch org show --id ORG_ID.
func orgShow(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "org show")
	id := f.text("id", "organization id")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	if err := require("org show", map[string]string{"id": *id}); err != nil {
		return err
	}
	db, err := f.store().open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	o, err := db.Organization(ctx, *id)
	if err != nil {
		return adminError(err)
	}
	return printJSON(c.stdout, o)
}

// appList: facematch app list --org ORG_ID, one application per line.
func appList(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "app list")
	org := f.text("org", "organization id")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	if err := require("app list", map[string]string{"org": *org}); err != nil {
		return err
	}
	db, closeDB, err := openAdmin(ctx, f)
	if err != nil {
		return err
	}
	defer closeDB()
	apps, err := db.ListApplications(ctx, *org)
	if err != nil {
		return adminError(err)
	}
	for _, a := range apps {
		if err := printJSONLine(c.stdout, a); err != nil {
			return err
		}
	}
	return nil
}

// keyList: facematch key list --app APP_ID, one key per line: id, prefix, created, last used,
// revoked. Never the key: only its hash is kept.
func keyList(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "key list")
	app := f.text("app", "application id")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	if err := require("key list", map[string]string{"app": *app}); err != nil {
		return err
	}
	db, closeDB, err := openAdmin(ctx, f)
	if err != nil {
		return err
	}
	defer closeDB()
	keys, err := db.ListAPIKeys(ctx, *app)
	if err != nil {
		return adminError(err)
	}
	for _, k := range keys {
		if err := printJSONLine(c.stdout, k); err != nil {
			return err
		}
	}
	return nil
}

// listedSession is a line of session list.
type listedSession struct {
	ID         string              `json:"id"`
	Number     int64               `json:"number"`
	App        string              `json:"app"`
	VendorData *string             `json:"vendor_data"`
	Metadata   json.RawMessage     `json:"metadata"`
	CreatedAt  time.Time           `json:"created_at"`
	FaceMatch  facematch.FaceMatch `json:"face_match"`
}

// sessionList: facematch session list --app APP_ID [--vendor-data V] [--limit N].
func sessionList(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "session list")
	app := f.text("app", "application id")
	vendor := f.text("vendor-data", "only the sessions saved with this vendor_data")
	limit := f.count("limit", 100, 0, "the most sessions listed, newest first; 0 lists all")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	if err := require("session list", map[string]string{"app": *app}); err != nil {
		return err
	}
	filter := facematch.SessionFilter{AppID: *app, Limit: *limit}
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "vendor-data" {
			filter.VendorData = vendor
		}
	})
	db, closeDB, err := openAdmin(ctx, f)
	if err != nil {
		return err
	}
	defer closeDB()
	sessions, err := db.ListSessions(ctx, filter)
	if err != nil {
		return adminError(err)
	}
	for _, s := range sessions {
		line := listedSession{ID: s.ID, Number: s.Number, App: s.AppID, VendorData: s.VendorData, Metadata: s.Metadata, CreatedAt: s.CreatedAt, FaceMatch: s.FaceMatch}
		if line.Metadata == nil {
			line.Metadata = json.RawMessage("null")
		}
		if err := printJSONLine(c.stdout, line); err != nil {
			return err
		}
	}
	return nil
}

// sessionPurge: facematch session purge --older-than DURATION [--app APP_ID].
func sessionPurge(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "session purge")
	olderThan := f.durationArg("older-than", 0, time.Minute, true, "delete the sessions created longer ago than this, e.g. 30d or 12h")
	app := f.text("app", "only this application's sessions (default: every application's)")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	if *olderThan == 0 {
		return usageErrorf("session purge needs --older-than, e.g. --older-than 30d")
	}
	db, closeDB, err := openAdmin(ctx, f)
	if err != nil {
		return err
	}
	defer closeDB()
	before := time.Now().Add(-*olderThan)
	n, err := db.PurgeSessions(ctx, before, *app)
	if err != nil {
		return adminError(err)
	}
	return printJSON(c.stdout, map[string]any{"purged": n, "created_before": before.UTC()})
}

// backup: facematch backup --out FILE.
func backup(ctx context.Context, c *cmdContext, args []string) error {
	f := newFlags(c, "backup")
	out := f.text("out", "file to write the copy of the database to; it must not exist")
	if err := f.parse(args); err != nil {
		return helped(err)
	}
	if err := require("backup", map[string]string{"out": *out}); err != nil {
		return err
	}
	if *f.databaseURL != "" {
		return errors.New("backup copies the SQLite database of --data; back PostgreSQL up with pg_dump (docs/operations.md)")
	}
	db, err := f.store().open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	sqliteDB, ok := db.(interface {
		Backup(ctx context.Context, path string) error
	})
	if !ok {
		return fmt.Errorf("backup copies a SQLite database; this store cannot be copied by it")
	}
	path, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	if err := sqliteDB.Backup(ctx, path); err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return errors.Join(errors.New("backup written but not found"), err)
	}
	return printJSON(c.stdout, map[string]any{"out": path, "bytes": st.Size()})
}
