package refimpl

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// knownEvents are the event names the provider documents (FM-WH-1); only status.updated is sent.
var knownEvents = map[string]bool{
	"status.updated": true, "data.updated": true, "user.status.updated": true, "user.data.updated": true,
	"business.status.updated": true, "business.data.updated": true, "activity.created": true,
	"transaction.created": true, "transaction.status.updated": true,
}

// newSecret is whsec_ and the base64 of 24 random bytes: the reference's own length.
func newSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// destinationInput is a create or update body, field by field as sent.
func readDestination(r *http.Request) (map[string]json.RawMessage, fieldErrors) {
	var in map[string]json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	if err := dec.Decode(&in); err != nil || in == nil {
		return nil, fieldErrors{"non_field_errors": {"Send a JSON object."}}
	}
	return in, nil
}

// applyDestination validates the fields of in onto d; create requires label and url.
func (s *Server) applyDestination(d *destination, in map[string]json.RawMessage, create bool) (rotate bool, errs fieldErrors) {
	errs = fieldErrors{}
	str := func(field string) (string, bool) {
		raw, ok := in[field]
		if !ok {
			if create {
				errs[field] = []string{"This field is required."}
			}
			return "", false
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			errs[field] = []string{"Not a valid string."}
			return "", false
		}
		return v, true
	}
	if v, ok := str("label"); ok {
		if strings.TrimSpace(v) == "" || utf8.RuneCountInString(v) > 255 {
			errs["label"] = []string{"Give a label of 1 to 255 characters."}
		}
		d.Label = v
	}
	if v, ok := str("url"); ok {
		if msg := s.checkDestinationURL(v); msg != "" {
			errs["url"] = []string{msg}
		}
		d.URL = v
	}
	if _, ok := in["subscribed_events"]; !ok && create {
		errs["subscribed_events"] = []string{"This field is required."}
	}
	if raw, ok := in["subscribed_events"]; ok {
		var evs []string
		switch {
		case json.Unmarshal(raw, &evs) != nil:
			errs["subscribed_events"] = []string{"Expected a list of event names."}
		case len(evs) == 0:
			errs["subscribed_events"] = []string{"This list may not be empty."}
		default:
			seen := map[string]bool{}
			for _, e := range evs {
				if !knownEvents[e] {
					errs["subscribed_events"] = append(errs["subscribed_events"], fmt.Sprintf("%q is not a valid choice.", e))
				} else if seen[e] {
					errs["subscribed_events"] = append(errs["subscribed_events"], fmt.Sprintf("%q is listed twice.", e))
				}
				seen[e] = true
			}
			d.Events = evs
		}
	}
	boolean := func(field string) (bool, bool) {
		raw, ok := in[field]
		if !ok {
			return false, false
		}
		var v bool
		if json.Unmarshal(raw, &v) != nil {
			errs[field] = []string{"Must be a valid boolean."}
			return false, false
		}
		return v, true
	}
	if v, ok := boolean("enabled"); ok {
		d.Enabled = v
	}
	if raw, ok := in["webhook_version"]; ok {
		var v string
		if json.Unmarshal(raw, &v) != nil || (v != "v1" && v != "v2" && v != "v3") {
			errs["webhook_version"] = []string{`Choose "v1", "v2" or "v3".`}
		}
		d.Version = v
	}
	if !create {
		rotate, _ = boolean("rotate_secret_key")
		changed := false
		for _, f := range []string{"label", "url", "subscribed_events", "enabled", "webhook_version", "rotate_secret_key"} {
			if _, ok := in[f]; ok {
				changed = true
			}
		}
		if !changed {
			errs["non_field_errors"] = []string{"Send at least one field to change."}
		}
	}
	if len(errs) == 0 {
		errs = nil
	}
	return rotate, errs
}

func (s *Server) destinationView(d *destination, withSecret, withSummary bool) map[string]any {
	out := map[string]any{
		"uuid": d.UUID, "label": d.Label, "url": d.URL, "subscribed_events": d.Events, "enabled": d.Enabled,
		"webhook_version": d.Version, "created_at": timestamp(d.Created), "updated_at": timestamp(d.Updated),
	}
	if withSecret {
		out["secret_shared_key"] = d.Secret
	}
	if withSummary {
		sum := map[string]any{"total_deliveries": d.Total, "failed_deliveries": d.Failed, "error_rate_percentage": 0,
			"min_response_time_ms": nil, "avg_response_time_ms": nil, "max_response_time_ms": nil, "last_delivery_at": nil}
		if d.Total > 0 {
			sum["error_rate_percentage"] = math.Round(float64(d.Failed)/float64(d.Total)*10000) / 100
			sum["last_delivery_at"] = timestamp(d.LastAt)
		}
		if d.Responses > 0 {
			sum["min_response_time_ms"], sum["max_response_time_ms"] = d.MinMS, d.MaxMS
			sum["avg_response_time_ms"] = math.Round(d.SumMS/float64(d.Responses)*100) / 100
		}
		out["summary"] = sum
	}
	return out
}

func (s *Server) createDestination(w http.ResponseWriter, r *http.Request, c caller) {
	in, errs := readDestination(r)
	if errs != nil {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	now := time.Now().UTC()
	d := &destination{UUID: newUUID(), App: c.app.ID, Enabled: true, Version: "v3", Secret: newSecret(), Created: now, Updated: now}
	if _, errs := s.applyDestination(d, in, true); errs != nil {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	s.st.update(func(st *state) error { st.Destinations[d.UUID] = d; return nil })
	writeJSON(w, http.StatusCreated, s.destinationView(d, true, false))
}

func (s *Server) findDestination(c caller, id string) *destination {
	var found *destination
	s.st.view(func(st *state) {
		if d := st.Destinations[id]; d != nil && d.App == c.app.ID {
			cp := *d
			found = &cp
		}
	})
	return found
}

// listDestinations answers the application's destinations, newest first.
func (s *Server) listDestinations(w http.ResponseWriter, c caller) {
	var ds []*destination
	s.st.view(func(st *state) {
		for _, d := range st.Destinations {
			if d.App == c.app.ID {
				cp := *d
				ds = append(ds, &cp)
			}
		}
	})
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].Created.Equal(ds[j].Created) {
			return ds[i].Created.After(ds[j].Created)
		}
		return ds[i].UUID > ds[j].UUID
	})
	out := make([]any, 0, len(ds))
	for _, d := range ds {
		out = append(out, s.destinationView(d, false, false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getDestination(w http.ResponseWriter, c caller, id string) {
	d := s.findDestination(c, id)
	if d == nil {
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	writeJSON(w, http.StatusOK, s.destinationView(d, false, true))
}

func (s *Server) patchDestination(w http.ResponseWriter, r *http.Request, c caller, id string) {
	d := s.findDestination(c, id)
	if d == nil {
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	in, errs := readDestination(r)
	if errs != nil {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	rotate, errs := s.applyDestination(d, in, false)
	if errs != nil {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	if rotate {
		d.Secret = newSecret()
	}
	d.Updated = time.Now().UTC()
	err := s.st.update(func(st *state) error {
		cur := st.Destinations[id]
		if cur == nil {
			return errors.New("gone")
		}
		d.Total, d.Failed, d.Responses, d.SumMS, d.MinMS, d.MaxMS, d.LastAt = cur.Total, cur.Failed, cur.Responses, cur.SumMS, cur.MinMS, cur.MaxMS, cur.LastAt
		st.Destinations[id] = d
		return nil
	})
	if err != nil {
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	writeJSON(w, http.StatusOK, s.destinationView(d, rotate, false))
}

func (s *Server) deleteDestination(w http.ResponseWriter, c caller, id string) {
	found := false
	s.st.update(func(st *state) error {
		if d := st.Destinations[id]; d != nil && d.App == c.app.ID {
			found = true
			delete(st.Destinations, id)
		}
		return nil
	})
	if !found {
		writeRaw(w, http.StatusNotFound, notFoundBody)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkDestinationURL refuses what FM-WH-5 refuses at creation: other schemes, and addresses the
// policy refuses when the host is an address.
func (s *Server) checkDestinationURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return "Enter a valid http or https URL."
	}
	if sch := strings.ToLower(u.Scheme); sch != "http" && sch != "https" {
		return "Only http and https destinations are allowed."
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := s.addressAllowed(ip); err != nil {
			return "This destination address is not allowed: " + err.Error()
		}
	}
	return ""
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

var (
	alwaysRefused = prefixes("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "0.0.0.0/8", "224.0.0.0/4", "ff00::/8", "::/128")
	privateRanges = prefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128", "fc00::/7", "100.64.0.0/10")
	reserved      = prefixes("192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
		"240.0.0.0/4", "2001:db8::/32", "2001:10::/28", "2001:20::/28", "100::/64")
	metadataV4 = netip.MustParseAddr("169.254.169.254")
)

// embeddedV4 is the IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4,
// Teredo), which decides for it.
func embeddedV4(ip netip.Addr) (netip.Addr, bool) {
	if ip.Is4In6() {
		return ip.Unmap(), true
	}
	if !ip.Is6() {
		return ip, false
	}
	b := ip.As16()
	v4 := func(x []byte) netip.Addr { return netip.AddrFrom4([4]byte{x[0], x[1], x[2], x[3]}) }
	zero := func(x []byte) bool {
		for _, c := range x {
			if c != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case zero(b[:12]) && !zero(b[12:14]): // IPv4-compatible ::a.b.c.d (not :: or ::1)
		return v4(b[12:]), true
	case netip.MustParsePrefix("64:ff9b::/96").Contains(ip):
		return v4(b[12:]), true
	case b[0] == 0x20 && b[1] == 0x02: // 6to4 2002:AABB:CCDD::
		return v4(b[2:6]), true
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0: // Teredo 2001:0::/32
		x := []byte{b[12] ^ 0xff, b[13] ^ 0xff, b[14] ^ 0xff, b[15] ^ 0xff}
		return v4(x), true
	}
	return ip, false
}

// addressAllowed is FM-WH-5's policy for one address.
func (s *Server) addressAllowed(ip netip.Addr) error {
	if v4, ok := embeddedV4(ip); ok {
		if err := s.addressAllowed(v4); err != nil {
			return fmt.Errorf("%s carries %s: %w", ip, v4, err)
		}
		return nil
	}
	ip = ip.Unmap()
	for _, p := range alwaysRefused {
		if p.Contains(ip) {
			if s.fault(FaultMetadataAddress) && ip == metadataV4 {
				return nil
			}
			return fmt.Errorf("%s is link-local, metadata or otherwise never reachable", ip)
		}
	}
	for _, p := range privateRanges {
		if p.Contains(ip) {
			if s.cfg.AllowPrivate {
				return nil
			}
			return fmt.Errorf("%s is private or loopback", ip)
		}
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return fmt.Errorf("%s is a special-purpose address", ip)
		}
	}
	return nil
}

// hookClient sends webhooks: the policy holds on every connection, redirects are not followed.
func (s *Server) hookClient() *http.Client {
	dialer := &net.Dialer{Timeout: s.cfg.AttemptTimeout, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		return s.addressAllowed(ip)
	}}
	return &http.Client{
		Timeout:       s.cfg.AttemptTimeout,
		Transport:     &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// deliverLoop sends the due deliveries until ctx ends.
func (s *Server) deliverLoop(ctx context.Context) {
	var mu sync.Mutex
	busy := map[string]bool{}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.wake:
		}
		var due []delivery
		now := time.Now()
		s.st.view(func(st *state) {
			for _, d := range st.Deliveries {
				if !d.Due.After(now) {
					due = append(due, *d)
				}
			}
		})
		for _, d := range due {
			mu.Lock()
			if busy[d.ID] {
				mu.Unlock()
				continue
			}
			busy[d.ID] = true
			mu.Unlock()
			go func() {
				s.attempt(ctx, d)
				mu.Lock()
				delete(busy, d.ID)
				mu.Unlock()
			}()
		}
	}
}

// attempt makes one delivery attempt, rendered and signed at the time it is made.
func (s *Server) attempt(ctx context.Context, d delivery) {
	var dest *destination
	var ses *session
	var secret string
	s.st.view(func(st *state) {
		if x := st.Destinations[d.Dest]; x != nil {
			cp := *x
			dest = &cp
		}
		if x := st.Sessions[d.Session]; x != nil {
			cp := *x
			ses = &cp
		}
		secret = st.MediaSecret
	})
	if dest == nil || ses == nil {
		s.st.update(func(st *state) error { delete(st.Deliveries, d.ID); return nil })
		return
	}
	ts := time.Now().Unix()
	body, err := s.renderEvent(ses, ts, secret)
	if err != nil {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest.URL, bytes.NewReader(body))
	if err != nil {
		s.finish(d, dest.UUID, 0, 0, false, false)
		return
	}
	for k, v := range s.signatures(dest.Secret, d.ID, ts, ses, body) {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facematch-reference-webhooks")
	start := time.Now()
	res, err := s.hooks.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: the delivery stays pending
		}
		s.finish(d, dest.UUID, 0, 0, false, true)
		return
	}
	res.Body.Close()
	ms := float64(time.Since(start).Microseconds()) / 1000
	code := res.StatusCode
	ok := code >= 200 && code < 300
	retry := code == 404 && !s.fault(FaultNoRetry404) || code == 408 || code == 429 || code >= 500
	s.finish(d, dest.UUID, code, ms, ok, retry)
}

// finish records an attempt and schedules the next one or ends the delivery.
func (s *Server) finish(d delivery, destID string, code int, ms float64, ok, retry bool) {
	s.st.update(func(st *state) error {
		if dest := st.Destinations[destID]; dest != nil {
			dest.Total++
			if !ok {
				dest.Failed++
			}
			if code != 0 {
				if dest.Responses == 0 || ms < dest.MinMS {
					dest.MinMS = ms
				}
				dest.MaxMS = math.Max(dest.MaxMS, ms)
				dest.SumMS += ms
				dest.Responses++
			}
			dest.LastAt = time.Now().UTC()
		}
		cur := st.Deliveries[d.ID]
		if cur == nil {
			return nil
		}
		cur.Attempts++
		if ok || !retry || cur.Attempts > len(s.cfg.Backoff) {
			delete(st.Deliveries, d.ID)
			return nil
		}
		cur.Due = time.Now().Add(s.cfg.Backoff[cur.Attempts-1])
		return nil
	})
}

// renderEvent is the status.updated body of a session at time ts: sorted keys, compact.
func (s *Server) renderEvent(ses *session, ts int64, secret string) ([]byte, error) {
	var metadata any
	if ses.Metadata != nil {
		metadata, _ = decode(ses.Metadata)
	}
	dec := s.decision(ses, ses.BaseURL, secret)
	ev := map[string]any{
		"session_id": ses.ID, "status": ses.Status, "webhook_type": "status.updated", "vendor_data": ses.VendorData,
		"metadata": metadata, "workflow_id": nil, "timestamp": ts, "created_at": ses.Created.Unix(), "decision": dec,
	}
	if !s.fault(FaultUnsortedBody) {
		return marshal(ev)
	}
	// The fault: the keys in the order a struct would write them, not sorted.
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range []string{"session_id", "status", "webhook_type", "vendor_data", "metadata", "workflow_id", "timestamp", "created_at", "decision"} {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := marshal(k)
		vb, err := marshal(ev[k])
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func hexMAC(key, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// signatures are the FM-WH-3 and FM-WH-6 headers of one attempt.
func (s *Server) signatures(secret, id string, ts int64, ses *session, body []byte) map[string]string {
	whole := []byte(secret)
	decoded, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	sigKey := whole
	if s.fault(FaultSignDecodedSecret) {
		sigKey = decoded
	}
	stdKey := decoded
	if s.fault(FaultStandardWholeSecret) {
		stdKey = whole
	}
	canon, _ := s.canonical(body)
	tsText := strconv.FormatInt(ts, 10)
	std := hmac.New(sha256.New, stdKey)
	std.Write([]byte(id + "." + tsText + "."))
	std.Write(body)
	return map[string]string{
		"X-Timestamp":        tsText,
		"X-Signature":        hexMAC(sigKey, body),
		"X-Signature-V2":     hexMAC(sigKey, canon),
		"X-Signature-Simple": hexMAC(sigKey, []byte(fmt.Sprintf("%d:%s:%s:%s", ts, ses.ID, ses.Status, "status.updated"))),
		"X-Webhook-Id":       id,
		"webhook-id":         id,
		"webhook-timestamp":  tsText,
		"webhook-signature":  "v1," + base64.StdEncoding.EncodeToString(std.Sum(nil)),
	}
}

// canonical writes JSON as FM-WH-3 defines it: sorted keys, compact, integral numbers as
// integers, non-ASCII text as it is (Python's json.dumps(sort_keys=True, separators=(",", ":"),
// ensure_ascii=False)).
func (s *Server) canonical(doc []byte) ([]byte, error) {
	v, err := decode(doc)
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	s.writeCanonical(&out, v)
	return []byte(out.String()), nil
}

func (s *Server) writeCanonical(out *strings.Builder, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				out.WriteByte(',')
			}
			s.writeString(out, k)
			out.WriteByte(':')
			s.writeCanonical(out, x[k])
		}
		out.WriteByte('}')
	case []any:
		out.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				out.WriteByte(',')
			}
			s.writeCanonical(out, e)
		}
		out.WriteByte(']')
	case string:
		s.writeString(out, x)
	case json.Number:
		f, err := x.Float64()
		switch {
		case err != nil:
			out.WriteString(x.String())
		case f == math.Trunc(f) && math.Abs(f) < 1e300:
			out.WriteString(strconv.FormatFloat(f, 'f', 0, 64))
		default:
			out.WriteString(pyRepr(f))
		}
	case bool:
		out.WriteString(strconv.FormatBool(x))
	case nil:
		out.WriteString("null")
	}
}

// pyRepr is Python's repr of a float: the shortest digits, an exponent below 1e-4 and from 1e16.
func pyRepr(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		m := strconv.FormatFloat(f, 'e', -1, 64)
		mant, exp, _ := strings.Cut(m, "e")
		n, _ := strconv.Atoi(exp)
		sign := "+"
		if n < 0 {
			sign, n = "-", -n
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, n)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func (s *Server) writeString(out *strings.Builder, str string) {
	out.WriteByte('"')
	for _, r := range str {
		switch {
		case r == '"':
			out.WriteString(`\"`)
		case r == '\\':
			out.WriteString(`\\`)
		case r == '\n':
			out.WriteString(`\n`)
		case r == '\r':
			out.WriteString(`\r`)
		case r == '\t':
			out.WriteString(`\t`)
		case r == '\b':
			out.WriteString(`\b`)
		case r == '\f':
			out.WriteString(`\f`)
		case r < 0x20:
			fmt.Fprintf(out, `\u%04x`, r)
		case s.fault(FaultCanonicalEscapes) && r >= 0x370 && r <= 0x4ff: // Greek and Cyrillic
			fmt.Fprintf(out, `\u%04x`, r)
		default:
			out.WriteRune(r)
		}
	}
	out.WriteByte('"')
}
