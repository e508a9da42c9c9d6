// Package refimpl is a second, small implementation of the Face Match API contract (sections 1-5
// of ../shared/spec/face-match.md and the suite's FM-OPS-1), written for the conformance suite's
// own tests and as different from the facematch server as it could be made: its state is one JSON
// document rewritten on every change and its images are content-addressed files; its keys, ids,
// image URLs, webhook ids and secrets have formats of its own; its destination list is newest
// first and its decision object leaves out the feature arrays the contract does not require.
// Where the contract is silent it chose otherwise than our server, so that the suite can show it
// judges the contract and not our choices (those differences come out as notes).
//
// Face comparison is delegated to a real facematch server (the backend): after its own
// validation, a live call's images go to the backend's POST /v3/face-match/ with
// save_api_request=false, and the backend's face_match object is what the reference answers.
//
// The reference can inject faults (Fault), one per run, for the suite's mutation self-test.
package refimpl

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// state is everything the reference keeps, written to state.json as one document.
type state struct {
	Seq          int64                   `json:"seq"`
	Orgs         map[string]*org         `json:"orgs"`
	Apps         map[string]*app         `json:"apps"`
	Keys         map[string]*keyRecord   `json:"keys"` // by sha256 of the key
	Sessions     map[string]*session     `json:"sessions"`
	Destinations map[string]*destination `json:"destinations"`
	Deliveries   map[string]*delivery    `json:"deliveries"` // pending ones
	MediaSecret  string                  `json:"media_secret"`
}

type org struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Credits int64  `json:"credits"`
}

type app struct {
	ID         string `json:"id"`
	Org        string `json:"org"`
	Name       string `json:"name"`
	Sandbox    bool   `json:"sandbox"`
	NextNumber int    `json:"next_number"`
}

type keyRecord struct {
	ID      string `json:"id"`
	App     string `json:"app"`
	Revoked bool   `json:"revoked"`
}

type session struct {
	ID         string          `json:"id"`
	App        string          `json:"app"`
	Number     int             `json:"number"`
	Status     string          `json:"status"`
	Score      json.RawMessage `json:"score"`
	Warnings   json.RawMessage `json:"warnings"`
	VendorData *string         `json:"vendor_data"`
	Metadata   json.RawMessage `json:"metadata"`
	Created    time.Time       `json:"created"`
	RefBlob    string          `json:"ref_blob"`
	UserBlob   string          `json:"user_blob"`
	BaseURL    string          `json:"base_url"`
}

type destination struct {
	UUID      string    `json:"uuid"`
	App       string    `json:"app"`
	Label     string    `json:"label"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Enabled   bool      `json:"enabled"`
	Version   string    `json:"version"`
	Secret    string    `json:"secret"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Total     int       `json:"total"`
	Failed    int       `json:"failed"`
	Responses int       `json:"responses"`
	SumMS     float64   `json:"sum_ms"`
	MinMS     float64   `json:"min_ms"`
	MaxMS     float64   `json:"max_ms"`
	LastAt    time.Time `json:"last_at"`
}

type delivery struct {
	ID       string    `json:"id"`
	Dest     string    `json:"dest"`
	Session  string    `json:"session"`
	Attempts int       `json:"attempts"`
	Due      time.Time `json:"due"`
}

// store guards the state and writes it on every change.
type store struct {
	dir string
	mu  sync.Mutex
	st  state
}

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o700); err != nil {
		return nil, err
	}
	s := &store{dir: dir, st: state{
		Orgs: map[string]*org{}, Apps: map[string]*app{}, Keys: map[string]*keyRecord{},
		Sessions: map[string]*session{}, Destinations: map[string]*destination{}, Deliveries: map[string]*delivery{},
	}}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s.st); err != nil {
			return nil, fmt.Errorf("state.json: %w", err)
		}
	case os.IsNotExist(err):
		s.st.MediaSecret = randomHex(32)
		if err := s.persistLocked(); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	return s, nil
}

// update runs fn under the lock and writes the state when fn succeeds.
func (s *store) update(fn func(st *state) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := fn(&s.st); err != nil {
		return err
	}
	return s.persistLocked()
}

// view runs fn under the lock, changing nothing.
func (s *store) view(fn func(st *state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.st)
}

func (s *store) persistLocked() error {
	b, err := json.Marshal(&s.st)
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, "state.json.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.dir, "state.json"))
}

func (st *state) next(prefix string) string {
	st.Seq++
	return fmt.Sprintf("%s%d", prefix, st.Seq)
}

// putBlob stores data under its sha256 and returns the name.
func (s *store) putBlob(data []byte) (string, error) {
	sum := sha256.Sum256(data)
	name := hex.EncodeToString(sum[:])
	path := filepath.Join(s.dir, "blobs", name)
	if _, err := os.Stat(path); err == nil {
		return name, nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return "", err
	}
	return name, os.Rename(tmp, path)
}

func (s *store) blob(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.dir, "blobs", name))
}

// dropBlob removes a blob no session uses any more.
func (s *store) dropBlobLocked(name string) {
	for _, ses := range s.st.Sessions {
		if ses.RefBlob == name || ses.UserBlob == name {
			return
		}
	}
	os.Remove(filepath.Join(s.dir, "blobs", name))
}
