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
	org := f.String("org", "", "organization id")
	email := f.String("email", "", "email the account logs in with")
	admin := f.Bool("admin", false, "the account sees every organization, creates organizations and adds credits")
	fromStdin := f.Bool("password-stdin", false, "read the password from the first line of stdin instead of generating one")
	st := f.store()
	if err := f.parse(args); err != nil {
		return err
	}
	if *org == "" || !strings.Contains(*email, "@") {
		return fmt.Errorf("user create needs --org and an --email")
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
	db, err := st.open(ctx)
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
