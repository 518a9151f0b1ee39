package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/twostep/twostep/internal/dbtest"
	"github.com/twostep/twostep/internal/drip"
	"github.com/twostep/twostep/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// site is the webhook routes over a fresh database, with every provider
// on, and one active reader who was sent lesson 3 as <lesson3@lead.example>.
type site struct {
	t      *testing.T
	db     *store.DB
	srv    *httptest.Server
	h      *Handler
	reader int64
	ca     *testCA
	sgKey  *ecdsa.PrivateKey
	mgKey  []byte
	stdKey []byte
	pmUser string
	pmPass string
}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx := context.Background()
	db := dbtest.New(t)
	s := &site{t: t, db: db, ca: newTestCA(t, "sns.eu-west-1.amazonaws.com"), mgKey: []byte("mailgun-signing-key"),
		stdKey: []byte("a standard webhooks key of 32 b"), pmUser: "hook", pmPass: "p0stmark-pass"}
	s.sgKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&s.sgKey.PublicKey)
	sgPub, err := ParseSendGridKey(base64.StdEncoding.EncodeToString(der))
	if err != nil {
		t.Fatal(err)
	}
	parsers := map[drip.Provider]Parser{
		drip.ProviderSES:      &SNS{Topics: []string{topic}, Client: s.ca.client, Clock: testClock},
		drip.ProviderPostmark: &PostmarkAuth{User: s.pmUser, Password: s.pmPass},
		drip.ProviderSendGrid: &SendGridSigned{Key: sgPub, Clock: testClock},
		drip.ProviderMailgun:  &MailgunSigned{Key: s.mgKey, Clock: testClock},
		drip.ProviderGeneric:  &StandardWebhooks{Key: s.stdKey, Clock: testClock},
	}
	s.h = NewHandler(parsers, db, testClock, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	r := chi.NewRouter()
	r.Post("/webhooks/{provider}", s.h.ServeHTTP)
	s.srv = httptest.NewServer(r)
	t.Cleanup(s.srv.Close)
	s.reader = s.addReader("reader@example.org", "lesson3@lead.example")
	_ = ctx
	return s
}

// addReader makes an active reader who was sent lesson 3 with msgID.
func (s *site) addReader(email, msgID string) int64 {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.db.Signup(ctx, drip.Signup{Email: email, TimeZone: "UTC", At: testNow.Add(-30 * 24 * time.Hour)}); err != nil {
		s.t.Fatal(err)
	}
	var id int64
	if err := s.db.Pool.QueryRow(ctx, `
		UPDATE subscribers SET status = 'active', confirmed_at = $2
		WHERE email = $1 RETURNING id`, email, testNow.Add(-29*24*time.Hour)).Scan(&id); err != nil {
		s.t.Fatal(err)
	}
	// Confirmed, the reader has a schedule row (migration 00016's trigger).
	if tag, err := s.db.Pool.Exec(ctx, `UPDATE schedule SET lesson = 4, due_at = $2 WHERE subscriber_id = $1`,
		id, testNow.Add(24*time.Hour)); err != nil || tag.RowsAffected() != 1 {
		s.t.Fatalf("schedule the reader: %v, %d rows", err, tag.RowsAffected())
	}
	if _, err := s.db.Pool.Exec(ctx, `
		INSERT INTO deliveries (subscriber_id, lesson, status, due_at, message_id, sent_at)
		VALUES ($1, 3, 'sent', $2, $3, $2)`, id, testNow.Add(-2*24*time.Hour), msgID); err != nil {
		s.t.Fatal(err)
	}
	return id
}

func (s *site) post(path string, r *http.Request) int {
	s.t.Helper()
	u := s.srv.URL + path
	req, err := http.NewRequest(http.MethodPost, u, r.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header = r.Header
	if r.Header.Get("Authorization") == "" && r.URL.User != nil {
		p, _ := r.URL.User.Password()
		req.SetBasicAuth(r.URL.User.Username(), p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (s *site) status(id int64) string {
	s.t.Helper()
	var st string
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT status FROM subscribers WHERE id = $1`, id).Scan(&st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *site) count(sql string, args ...any) int {
	s.t.Helper()
	var n int
	if err := s.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// state is everything a report may change, to compare before and after.
func (s *site) state() string {
	s.t.Helper()
	return fmt.Sprint(
		s.count(`SELECT count(*) FROM reports`),
		s.count(`SELECT count(*) FROM suppressions`),
		s.count(`SELECT count(*) FROM events`),
		s.count(`SELECT count(*) FROM replay_keys`),
		s.count(`SELECT count(*) FROM subscribers WHERE status = 'active'`))
}

func (s *site) generic(id string, body string) *http.Request {
	return standardRequest(s.stdKey, id, testNow, []byte(body))
}

func TestAHardBounceStopsMailToTheReaderOnceEvenWhenDeliveredTwice(t *testing.T) {
	s := newSite(t)
	body := `{"message_id":"<lesson3@lead.example>","type":"hard","reason":"550 5.1.1 no such user"}`
	for i := 0; i < 2; i++ {
		if code := s.post("/webhooks/generic", s.generic("evt_1", body)); code != http.StatusNoContent {
			t.Fatalf("delivery %d: status %d", i+1, code)
		}
		// The answer comes after the commit: what it acknowledged is stored.
		if st := s.status(s.reader); st != "bounced" {
			t.Fatalf("after delivery %d the reader is %s", i+1, st)
		}
	}
	if n := s.count(`SELECT count(*) FROM reports WHERE provider = 'generic' AND event_id = 'evt_1' AND outcome = 'bounced' AND lesson = 3 AND subscriber_id = $1`, s.reader); n != 1 {
		t.Errorf("%d report rows for the event, want 1 matched to lesson 3", n)
	}
	if n := s.count(`SELECT count(*) FROM events WHERE kind = 'bounced' AND subscriber_id = $1`, s.reader); n != 1 {
		t.Errorf("%d bounced events, want 1", n)
	}
	if n := s.count(`SELECT count(*) FROM suppressions WHERE email = 'reader@example.org' AND reason = 'hard'`); n != 1 {
		t.Errorf("address not suppressed")
	}
	if got := testutil.ToFloat64(s.h.bounces.WithLabelValues("generic", "hard")); got != 1 {
		t.Errorf("twostep_bounces_total{generic,hard} = %v, want 1", got)
	}
}

func TestAComplaintUnsubscribesAndSuppressesTheReader(t *testing.T) {
	s := newSite(t)
	body := []byte(`[{"email":"READER@example.org","event":"spamreport","sg_event_id":"sg-1","timestamp":1764590000}]`)
	if code := s.post("/webhooks/sendgrid", sendgridRequest(t, s.sgKey, testNow, body)); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if st := s.status(s.reader); st != "unsubscribed" {
		t.Errorf("reader is %s, want unsubscribed", st)
	}
	if n := s.count(`SELECT count(*) FROM events WHERE kind = 'complained' AND actor = 'report' AND detail->>'provider' = 'sendgrid' AND subscriber_id = $1`, s.reader); n != 1 {
		t.Errorf("%d complaint events", n)
	}
	if n := s.count(`SELECT count(*) FROM suppressions WHERE email = 'reader@example.org' AND reason = 'complaint'`); n != 1 {
		t.Errorf("address not suppressed as a complaint")
	}
	if n := s.count(`SELECT count(*) FROM subscribers s LEFT JOIN schedule p ON p.subscriber_id = s.id
		WHERE s.id = $1 AND s.unsubscribed_at IS NOT NULL AND p.due_at IS NULL`, s.reader); n != 1 {
		t.Errorf("unsubscribed reader still scheduled")
	}
	if got := testutil.ToFloat64(s.h.complaints.WithLabelValues("sendgrid")); got != 1 {
		t.Errorf("twostep_complaints_total = %v", got)
	}
}

func TestThreeSoftBouncesWithinThirtyDaysBounceTheReader(t *testing.T) {
	s := newSite(t)
	ev := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"event":"failed","severity":"temporary","recipient":"reader@example.org","delivery-status":{"code":452,"message":"mailbox full"}}`, id)
	}
	for i, want := range []string{"active", "active", "bounced"} {
		body := mailgunBodyFor(s.mgKey, testNow, fmt.Sprintf("token-%d", i), ev(fmt.Sprintf("mg-%d", i)))
		if code := s.post("/webhooks/mailgun", request(body, nil)); code != http.StatusNoContent {
			t.Fatalf("soft bounce %d: status %d", i+1, code)
		}
		if st := s.status(s.reader); st != want {
			t.Errorf("after soft bounce %d the reader is %s, want %s", i+1, st, want)
		}
	}
	// Soft bounces older than the window do not count.
	other := s.addReader("other@example.org", "other3@lead.example")
	if _, err := s.db.Pool.Exec(context.Background(), `
		INSERT INTO reports (provider, event_id, kind, email, subscriber_id, outcome, received_at)
		VALUES ('mailgun', 'old-1', 'soft', 'other@example.org', $1, 'counted', $2), ('mailgun', 'old-2', 'soft', 'other@example.org', $1, 'counted', $2)`,
		other, testNow.Add(-31*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	body := mailgunBodyFor(s.mgKey, testNow, "token-x", strings.Replace(ev("mg-x"), "reader@", "other@", 1))
	if code := s.post("/webhooks/mailgun", request(body, nil)); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if st := s.status(other); st != "active" {
		t.Errorf("two old soft bounces and one new bounced the reader (%s)", st)
	}
}

func TestForgedStaleReplayedAndOversizedRequestsChangeNothing(t *testing.T) {
	s := newSite(t)
	hard := `{"email":"reader@example.org","type":"hard"}`
	mgEvent := `{"id":"mg-1","event":"failed","severity":"permanent","recipient":"reader@example.org"}`
	mgBody := mailgunBodyFor(s.mgKey, testNow, "one-time", mgEvent)
	if code := s.post("/webhooks/mailgun", request(mgBody, nil)); code != http.StatusNoContent {
		t.Fatalf("first mailgun request: %d", code)
	}
	// Undo the bounce, so the refused requests below would show if they acted.
	if _, err := s.db.Pool.Exec(context.Background(), `UPDATE subscribers SET status = 'active'; DELETE FROM suppressions`); err != nil {
		t.Fatal(err)
	}
	sgBody := []byte(`[{"email":"reader@example.org","event":"bounce","type":"bounce","sg_event_id":"sg-9","timestamp":1}]`)
	big := `{"email":"reader@example.org","type":"hard","reason":"` + strings.Repeat("x", MaxBody) + `"}`
	pm := request([]byte(`{"RecordType":"Bounce","ID":1,"Type":"HardBounce","Email":"reader@example.org"}`), nil)
	pm.SetBasicAuth(s.pmUser, "guess")
	cases := []struct {
		name string
		path string
		r    *http.Request
		want int
	}{
		{"a generic report signed with another key", "/webhooks/generic", standardRequest([]byte("not the key at all, 32 bytes...."), "e1", testNow, []byte(hard)), 401},
		{"a stale generic report", "/webhooks/generic", standardRequest(s.stdKey, "e2", testNow.Add(-time.Hour), []byte(hard)), 400},
		{"a replayed Mailgun token", "/webhooks/mailgun", request(mgBody, nil), 406},
		{"a Mailgun report with a forged signature", "/webhooks/mailgun", request(mailgunBodyFor([]byte("guess"), testNow, "t2", mgEvent), nil), 401},
		{"a SendGrid batch signed by another key", "/webhooks/sendgrid", sendgridRequest(t, func() *ecdsa.PrivateKey { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }(), testNow, sgBody), 401},
		{"a stale SendGrid batch", "/webhooks/sendgrid", sendgridRequest(t, s.sgKey, testNow.Add(-6*time.Minute), sgBody), 400},
		{"Postmark with a wrong password", "/webhooks/postmark", pm, 401},
		{"an SNS message on an unknown topic", "/webhooks/ses", func() *http.Request {
			m := snsNotification(sesBounce)
			m["TopicArn"] = "arn:aws:sns:eu-west-1:1:other"
			return request(s.ca.snsBody(t, m, "2"), nil)
		}(), 403},
		{"an oversized body", "/webhooks/generic", standardRequest(s.stdKey, "e3", testNow, []byte(big)), 413},
		{"garbage", "/webhooks/generic", standardRequest(s.stdKey, "e4", testNow, []byte("\x00\r\nnot json")), 400},
		{"an unknown provider", "/webhooks/sparkpost", s.generic("e5", hard), 404},
	}
	before := s.state()
	for _, c := range cases {
		if code := s.post(c.path, c.r); code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, code, c.want)
		}
		if after := s.state(); after != before {
			t.Errorf("%s changed the database: %s -> %s", c.name, before, after)
			before = after
		}
	}
}

func TestAReportForAnUnknownMessageIsStoredAndAcknowledged(t *testing.T) {
	s := newSite(t)
	body := `{"message_id":"never-sent@lead.example","email":"stranger@example.net","type":"hard","reason":"550"}`
	if code := s.post("/webhooks/generic", s.generic("evt_unknown", body)); code != http.StatusNoContent {
		t.Fatalf("status %d, want 204 so the provider stops retrying", code)
	}
	if n := s.count(`SELECT count(*) FROM reports WHERE event_id = 'evt_unknown' AND outcome = 'unmatched' AND subscriber_id IS NULL`); n != 1 {
		t.Errorf("unmatched report not stored")
	}
	if s.status(s.reader) != "active" {
		t.Errorf("an unrelated reader changed")
	}
	if n := s.count(`SELECT count(*) FROM suppressions WHERE email = 'stranger@example.net'`); n != 1 {
		t.Errorf("a hard-bounced address that matched nobody was not suppressed, so a later signup could mail it")
	}
}

func TestAnSESBounceThroughSNSIsMatchedByMessageID(t *testing.T) {
	s := newSite(t)
	msg := strings.Replace(sesBounce, "abc123@lead.example", "lesson3@lead.example", 1)
	msg = strings.Replace(msg, "gone@example.org", "reader@example.org", 1)
	body := s.ca.snsBody(t, snsNotification(msg), "1")
	if code := s.post("/webhooks/ses", request(body, map[string]string{"x-amz-sns-message-type": "Notification"})); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if s.status(s.reader) != "bounced" {
		t.Errorf("reader not bounced")
	}
	if n := s.count(`SELECT count(*) FROM reports WHERE provider = 'ses' AND lesson = 3`); n != 1 {
		t.Errorf("SES report not matched to lesson 3")
	}
}

func TestAPostmarkBounceIsMatchedByAddress(t *testing.T) {
	s := newSite(t)
	r := request([]byte(`{"RecordType":"Bounce","ID":42,"Type":"HardBounce","Email":"Reader@Example.org","Details":"550 5.1.1"}`), nil)
	r.SetBasicAuth(s.pmUser, s.pmPass)
	if code := s.post("/webhooks/postmark", r); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if s.status(s.reader) != "bounced" {
		t.Errorf("reader not bounced")
	}
}

func TestOneMessageRetriedCountsAsOneSoftBounce(t *testing.T) {
	s := newSite(t)
	// Mailgun reports every retry of one greylisted lesson.
	for i := 0; i < 5; i++ {
		ev := fmt.Sprintf(`{"id":"retry-%d","event":"failed","severity":"temporary","recipient":"reader@example.org","message":{"headers":{"message-id":"lesson3@lead.example"}}}`, i)
		body := mailgunBodyFor(s.mgKey, testNow, fmt.Sprintf("tok-%d", i), ev)
		if code := s.post("/webhooks/mailgun", request(body, nil)); code != http.StatusNoContent {
			t.Fatalf("retry %d: status %d", i, code)
		}
	}
	if st := s.status(s.reader); st != "active" {
		t.Errorf("five reports of one retried message made the reader %s", st)
	}
}

func TestABouncedAddressChangeLeavesTheReaderAndSuppressesOnlyTheNewAddress(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	if _, err := s.db.Pool.Exec(ctx, `UPDATE subscribers SET pending_email = 'typo@exmaple.org', pending_email_at = $2 WHERE id = $1;`, s.reader, testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Pool.Exec(ctx, `INSERT INTO outbox (subscriber_id, kind, status, recipient, message_id, next_attempt_at)
		VALUES ($1, 'email_change', 'sent', 'typo@exmaple.org', 'change@lead.example', $2)`, s.reader, testNow); err != nil {
		t.Fatal(err)
	}
	body := `{"message_id":"change@lead.example","email":"typo@exmaple.org","type":"hard"}`
	if code := s.post("/webhooks/generic", s.generic("evt_change", body)); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if st := s.status(s.reader); st != "active" {
		t.Errorf("the reader is %s after their new address bounced", st)
	}
	if n := s.count(`SELECT count(*) FROM suppressions WHERE email = 'typo@exmaple.org'`); n != 1 {
		t.Errorf("the bounced new address is not suppressed")
	}
	if n := s.count(`SELECT count(*) FROM suppressions WHERE email = 'reader@example.org'`); n != 0 {
		t.Errorf("the reader's working address was suppressed")
	}
	if n := s.count(`SELECT count(*) FROM subscribers WHERE id = $1 AND pending_email IS NULL`, s.reader); n != 1 {
		t.Errorf("the bounced new address is still pending")
	}
}

func TestAReportAboutAReaderWhoFinishedKeepsThemCompleted(t *testing.T) {
	s := newSite(t)
	if _, err := s.db.Pool.Exec(context.Background(), `UPDATE subscribers SET status = 'completed' WHERE id = $1`, s.reader); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Pool.Exec(context.Background(), `UPDATE schedule SET due_at = NULL WHERE subscriber_id = $1`, s.reader); err != nil {
		t.Fatal(err)
	}
	if code := s.post("/webhooks/generic", s.generic("evt_done", `{"email":"reader@example.org","type":"complaint"}`)); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if st := s.status(s.reader); st != "completed" {
		t.Errorf("a finished reader became %s", st)
	}
	if n := s.count(`SELECT count(*) FROM suppressions WHERE email = 'reader@example.org' AND reason = 'complaint'`); n != 1 {
		t.Errorf("a complaining finished reader's address is not suppressed")
	}
}

func TestALargeSendGridBatchIsRead(t *testing.T) {
	s := newSite(t)
	var evs []string
	for i := 0; len(strings.Join(evs, ",")) < 600<<10; i++ {
		evs = append(evs, fmt.Sprintf(`{"email":"someone%d@example.net","event":"delivered","sg_event_id":"d-%d","timestamp":1764590000,"smtp-id":"<x%d@lead.example>","category":["lessons"]}`, i, i, i))
	}
	evs = append(evs, `{"email":"reader@example.org","event":"bounce","type":"bounce","sg_event_id":"b-1","timestamp":1764590000}`)
	body := []byte("[" + strings.Join(evs, ",") + "]")
	if code := s.post("/webhooks/sendgrid", sendgridRequest(t, s.sgKey, testNow, body)); code != http.StatusNoContent {
		t.Fatalf("a %d KiB batch: status %d", len(body)>>10, code)
	}
	if st := s.status(s.reader); st != "bounced" {
		t.Errorf("the bounce at the end of a large batch was lost: reader %s", st)
	}
}

func TestErasingAReaderBlanksTheirReportsAndKeepsTheSuppression(t *testing.T) {
	s := newSite(t)
	body := `{"message_id":"lesson3@lead.example","email":"reader@example.org","type":"hard","reason":"550 5.1.1 <reader@example.org>: no such user"}`
	if code := s.post("/webhooks/generic", s.generic("evt_erase", body)); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	var gen int
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT token_gen FROM subscribers WHERE id = $1`, s.reader).Scan(&gen); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Erase(context.Background(), s.reader, gen, "subscriber"); err != nil {
		t.Fatal(err)
	}
	if n := s.count(`SELECT count(*) FROM reports WHERE email LIKE '%reader%' OR reason LIKE '%reader%'`); n != 0 {
		t.Errorf("%d reports still quote the erased reader's address", n)
	}
	if n := s.count(`SELECT count(*) FROM suppressions WHERE email = 'reader@example.org'`); n != 1 {
		t.Errorf("erasure lifted the suppression")
	}
}
