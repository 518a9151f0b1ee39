package webhook

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/clock"
	"github.com/twostep/twostep/internal/drip"
)

var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

var testClock = clock.Fixed(testNow)

// testCA is a certificate authority made for one test, and an SNS-like
// HTTPS server whose certificates it issued.
type testCA struct {
	pool    *x509.CertPool
	key     *rsa.PrivateKey // the SNS signing key
	certPEM []byte          // its certificate, as SNS serves it
	client  *http.Client    // dials srv whatever host a URL names
	fetches atomic.Int32
	confirm atomic.Int32
	srv     *httptest.Server
}

func newCert(t *testing.T, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl // self-signed
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTestCA(t *testing.T, host string) *testCA {
	t.Helper()
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ca := newCert(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}, nil, &caKey.PublicKey, caKey)
	// The wall clock may be far from testNow: the TLS server certificate
	// must be valid for the real time, the signing certificate for testNow.
	leafKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	leaf := newCert(t, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, &leafKey.PublicKey, caKey)
	now := time.Now()
	tlsCAKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	tlsCA := newCert(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "test TLS CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}, nil, &tlsCAKey.PublicKey, tlsCAKey)
	tlsLeafKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	tlsLeaf := newCert(t, &x509.Certificate{SerialNumber: big.NewInt(4), DNSNames: []string{"*.amazonaws.com", "sns.eu-west-1.amazonaws.com", "sns.us-east-1.amazonaws.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, tlsCA, &tlsLeafKey.PublicKey, tlsCAKey)

	c := &testCA{pool: x509.NewCertPool(), key: leafKey}
	c.pool.AddCert(ca)
	c.certPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})...)
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".pem"):
			c.fetches.Add(1)
			w.Write(c.certPEM)
		case r.URL.Query().Get("Action") == "ConfirmSubscription":
			c.confirm.Add(1)
			fmt.Fprint(w, "<ConfirmSubscriptionResponse/>")
		default:
			http.NotFound(w, r)
		}
	}))
	c.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{tlsLeaf.Raw}, PrivateKey: tlsLeafKey}}}
	c.srv.StartTLS()
	t.Cleanup(c.srv.Close)
	tlsPool := x509.NewCertPool()
	tlsPool.AddCert(tlsCA)
	addr := c.srv.Listener.Addr().String()
	c.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: tlsPool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	return c
}

const topic = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"

// snsBody signs m as SNS does, with version v.
func (c *testCA) snsBody(t *testing.T, m map[string]string, v string) []byte {
	t.Helper()
	msg := snsMessage{Type: m["Type"], MessageID: m["MessageId"], Token: m["Token"], TopicArn: m["TopicArn"],
		Message: m["Message"], SubscribeURL: m["SubscribeURL"], Timestamp: m["Timestamp"]}
	if s, ok := m["Subject"]; ok {
		msg.Subject = &s
	}
	signed, err := msg.signedString()
	if err != nil {
		t.Fatal(err)
	}
	var sig []byte
	if v == "1" {
		d := sha1.Sum([]byte(signed))
		sig, _ = rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256([]byte(signed))
		sig, _ = rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, d[:])
	}
	out := map[string]string{"SignatureVersion": v, "Signature": base64.StdEncoding.EncodeToString(sig),
		"SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"}
	for k, val := range m {
		out[k] = val
	}
	b, _ := json.Marshal(out)
	return b
}

const sesBounce = `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"gone@example.org","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]},"mail":{"messageId":"0100-ses","commonHeaders":{"messageId":"<abc123@lead.example>"}}}`

func snsNotification(message string) map[string]string {
	return map[string]string{"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": topic,
		"Message": message, "Timestamp": "2026-12-01T11:59:00.000Z"}
}

func request(body []byte, header map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/x", strings.NewReader(string(body)))
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

func TestSNSVerifiesBothSignatureVersionsAndReadsTheSESBounce(t *testing.T) {
	ca := newTestCA(t, "sns.eu-west-1.amazonaws.com")
	s := &SNS{Topics: []string{topic}, Client: ca.client, Clock: testClock}
	for _, v := range []string{"1", "2"} {
		m := snsNotification(sesBounce)
		m["Subject"] = "Amazon SES Email Event Notification"
		b, err := s.Parse(context.Background(), request(ca.snsBody(t, m, v), nil), ca.snsBody(t, m, v))
		if err != nil {
			t.Fatalf("version %s: %v", v, err)
		}
		if len(b.Reports) != 1 {
			t.Fatalf("version %s: events %+v", v, b.Reports)
		}
		e := b.Reports[0]
		if e.Kind != drip.ReportHard || e.Email != "gone@example.org" || e.MessageID != "abc123@lead.example" || !strings.Contains(e.Reason, "5.1.1") || e.Provider != drip.ProviderSES {
			t.Errorf("version %s: event %+v", v, e)
		}
	}
	if n := ca.fetches.Load(); n != 1 {
		t.Errorf("the signing certificate was fetched %d times; it should be cached after the first", n)
	}
}

func TestSNSReadsComplaintsTransientBouncesAndEventPublishingRecords(t *testing.T) {
	ca := newTestCA(t, "sns.eu-west-1.amazonaws.com")
	s := &SNS{Topics: []string{topic}, Client: ca.client, Clock: testClock}
	cases := []struct {
		message string
		kinds   []drip.ReportKind
	}{
		{`{"notificationType":"Complaint","complaint":{"complaintFeedbackType":"abuse","complainedRecipients":[{"emailAddress":"a@example.org"},{"emailAddress":"b@example.org"}]},"mail":{"headers":[{"name":"Message-ID","value":"<x@y>"}]}}`, []drip.ReportKind{drip.ReportComplaint, drip.ReportComplaint}},
		{`{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bouncedRecipients":[{"emailAddress":"full@example.org"}]},"mail":{}}`, []drip.ReportKind{drip.ReportSoft}},
		{`{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"x@example.org"}]},"mail":{}}`, []drip.ReportKind{drip.ReportHard}},
		{`{"notificationType":"Delivery","mail":{}}`, nil},
	}
	for _, c := range cases {
		body := ca.snsBody(t, snsNotification(c.message), "2")
		b, err := s.Parse(context.Background(), request(body, nil), body)
		if err != nil {
			t.Fatalf("%s: %v", c.message, err)
		}
		var kinds []drip.ReportKind
		ids := map[string]bool{}
		for _, e := range b.Reports {
			kinds = append(kinds, e.Kind)
			ids[e.ID] = true
		}
		if fmt.Sprint(kinds) != fmt.Sprint(c.kinds) || len(ids) != len(kinds) {
			t.Errorf("%s: kinds %v (want %v), ids %v", c.message, kinds, c.kinds, ids)
		}
	}
}

func TestSNSRefusesForgeriesUnknownTopicsAndForeignCertificateHosts(t *testing.T) {
	ca := newTestCA(t, "sns.eu-west-1.amazonaws.com")
	other := newTestCA(t, "sns.eu-west-1.amazonaws.com") // a key SNS never had
	s := &SNS{Topics: []string{topic}, Client: ca.client, Clock: testClock}
	good := ca.snsBody(t, snsNotification(sesBounce), "2")
	edit := func(f func(map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name string
		body []byte
		want error
	}{
		{"a changed message", edit(func(m map[string]any) { m["Message"] = strings.Replace(sesBounce, "gone@", "someone-else@", 1) }), ErrSignature},
		{"a signature by another key", other.snsBody(t, snsNotification(sesBounce), "2"), ErrSignature},
		{"an unknown topic", edit(func(m map[string]any) { m["TopicArn"] = "arn:aws:sns:eu-west-1:999:evil" }), ErrTopic},
		{"a certificate on another host", edit(func(m map[string]any) { m["SigningCertURL"] = "https://evil.example/cert.pem" }), ErrCertURL},
		{"a certificate on a look-alike host", edit(func(m map[string]any) { m["SigningCertURL"] = "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem" }), ErrCertURL},
		{"a certificate over http", edit(func(m map[string]any) { m["SigningCertURL"] = "http://sns.eu-west-1.amazonaws.com/x.pem" }), ErrCertURL},
		{"a certificate with credentials in the URL", edit(func(m map[string]any) { m["SigningCertURL"] = "https://u:p@sns.eu-west-1.amazonaws.com/x.pem" }), ErrCertURL},
		{"an unknown signature version", edit(func(m map[string]any) { m["SignatureVersion"] = "3" }), ErrSignature},
		{"a signature that is not base64", edit(func(m map[string]any) { m["Signature"] = "!!!" }), ErrSignature},
		{"an unknown message type", edit(func(m map[string]any) { m["Type"] = "Surprise" }), ErrMalformed},
		{"not JSON", []byte("<xml/>"), ErrMalformed},
	}
	for _, c := range cases {
		_, err := s.Parse(context.Background(), request(c.body, nil), c.body)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	// The certificate's trust is the TLS of the SNS host it came from: one
	// served by a host whose TLS the client does not trust is never used.
	untrusted := &SNS{Topics: []string{topic}, Client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: ca.client.Transport.(*http.Transport).DialContext}}, Clock: testClock}
	if b, err := untrusted.Parse(context.Background(), request(good, nil), good); err == nil || len(b.Reports) != 0 {
		t.Errorf("certificate over untrusted TLS: err %v, reports %v", err, b.Reports)
	}
	// An expired signing certificate is refused.
	late := &SNS{Topics: []string{topic}, Client: ca.client, Clock: clock.Fixed(testNow.Add(48 * time.Hour))}
	if _, err := late.Parse(context.Background(), request(good, nil), good); !errors.Is(err, ErrSignature) {
		t.Errorf("expired certificate: err %v", err)
	}
}

func TestSNSConfirmsASubscriptionOnlyOnAnSNSHost(t *testing.T) {
	ca := newTestCA(t, "sns.eu-west-1.amazonaws.com")
	s := &SNS{Topics: []string{topic}, Client: ca.client, Clock: testClock}
	m := map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "m1", "Token": "tok", "TopicArn": topic,
		"Message": "You have chosen to subscribe", "Timestamp": "2026-12-01T11:59:00.000Z",
		"SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=tok"}
	body := ca.snsBody(t, m, "1")
	b, err := s.Parse(context.Background(), request(body, map[string]string{"x-amz-sns-message-type": "SubscriptionConfirmation"}), body)
	if err != nil || len(b.Reports) != 0 {
		t.Fatalf("confirmation: %v, %+v", err, b)
	}
	if ca.confirm.Load() != 1 {
		t.Fatalf("the SubscribeURL was fetched %d times, want 1", ca.confirm.Load())
	}
	m["SubscribeURL"] = "https://169.254.169.254/latest/meta-data/"
	body = ca.snsBody(t, m, "1")
	if _, err := s.Parse(context.Background(), request(body, nil), body); !errors.Is(err, ErrCertURL) {
		t.Errorf("SubscribeURL off SNS: err %v", err)
	}
	if ca.confirm.Load() != 1 {
		t.Errorf("a SubscribeURL off SNS was fetched")
	}
}

func TestPostmarkChecksCredentialsAndMapsBounceTypes(t *testing.T) {
	p := &PostmarkAuth{User: "hook", Password: "s3cret-pass"}
	body := []byte(`{"RecordType":"Bounce","ID":4323372036854775807,"Type":"HardBounce","TypeCode":1,"Email":"gone@example.org","Description":"The server was unable to deliver your message","Details":"smtp;550 5.1.1","BouncedAt":"2026-12-01T11:00:00Z","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483"}`)
	auth := func(u, pw string) *http.Request {
		r := request(body, nil)
		r.SetBasicAuth(u, pw)
		return r
	}
	b, err := p.Parse(context.Background(), auth("hook", "s3cret-pass"), body)
	if err != nil || len(b.Reports) != 1 || b.Reports[0].Kind != drip.ReportHard || b.Reports[0].Email != "gone@example.org" || b.Reports[0].ID != "Bounce/4323372036854775807" {
		t.Fatalf("good request: %v %+v", err, b)
	}
	if b.Reports[0].MessageID != "" {
		t.Errorf("Postmark's own MessageID taken for ours: %q", b.Reports[0].MessageID)
	}
	for _, c := range [][2]string{{"hook", "wrong"}, {"other", "s3cret-pass"}, {"", ""}, {"hook", "s3cret-pas"}} {
		if _, err := p.Parse(context.Background(), auth(c[0], c[1]), body); !errors.Is(err, ErrSignature) {
			t.Errorf("credentials %q: err %v", c, err)
		}
	}
	if _, err := p.Parse(context.Background(), request(body, nil), body); !errors.Is(err, ErrSignature) {
		t.Errorf("no credentials: err %v", err)
	}
	for typ, want := range map[string]drip.ReportKind{"SoftBounce": drip.ReportSoft, "SpamComplaint": drip.ReportComplaint, "AutoResponder": ""} {
		rt := "Bounce"
		if typ == "SpamComplaint" {
			rt = "SpamComplaint"
		}
		bb := []byte(fmt.Sprintf(`{"RecordType":%q,"ID":7,"Type":%q,"Email":"a@example.org"}`, rt, typ))
		r := request(bb, nil)
		r.SetBasicAuth("hook", "s3cret-pass")
		got, err := p.Parse(context.Background(), r, bb)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if want == "" && len(got.Reports) != 0 || want != "" && (len(got.Reports) != 1 || got.Reports[0].Kind != want) {
			t.Errorf("%s: %+v, want %q", typ, got.Reports, want)
		}
	}
	bad := []byte(`{"RecordType":"Bounce","Type":"HardBounce","Email":"a@example.org"}`)
	r := request(bad, nil)
	r.SetBasicAuth("hook", "s3cret-pass")
	if _, err := p.Parse(context.Background(), r, bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("no ID: err %v", err)
	}
}

func sendgridRequest(t *testing.T, key *ecdsa.PrivateKey, ts time.Time, body []byte) *http.Request {
	t.Helper()
	tsh := strconv.FormatInt(ts.Unix(), 10)
	sum := sha256.Sum256(append([]byte(tsh), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return request(body, map[string]string{"X-Twilio-Email-Event-Webhook-Signature": base64.StdEncoding.EncodeToString(sig),
		"X-Twilio-Email-Event-Webhook-Timestamp": tsh})
}

func TestSendGridVerifiesTheECDSASignatureAndTheTimestamp(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pub, err := ParseSendGridKey(base64.StdEncoding.EncodeToString(der))
	if err != nil {
		t.Fatal(err)
	}
	g := &SendGridSigned{Key: pub, Clock: testClock}
	body := []byte(`[{"email":"gone@example.org","event":"bounce","type":"bounce","status":"5.1.1","reason":"550 no such user","smtp-id":"<abc@lead.example>","sg_event_id":"ev1","timestamp":1764590000},
{"email":"blocked@example.org","event":"bounce","type":"blocked","sg_event_id":"ev2","timestamp":1764590000},
{"email":"spam@example.org","event":"spamreport","sg_event_id":"ev3","timestamp":1764590000},
{"email":"x@example.org","event":"dropped","reason":"Bounced Address","sg_event_id":"ev4","timestamp":1764590000},
{"email":"x@example.org","event":"delivered","sg_event_id":"ev5","timestamp":1764590000},
{"email":"x@example.org","event":"deferred","sg_event_id":"ev6","timestamp":1764590000}]`)
	b, err := g.Parse(context.Background(), sendgridRequest(t, key, testNow.Add(-time.Minute), body), body)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range b.Reports {
		got = append(got, e.ID+":"+string(e.Kind))
	}
	if want := "[ev1:hard ev2:soft ev3:complaint ev4:hard]"; fmt.Sprint(got) != want {
		t.Errorf("events %v, want %s", got, want)
	}
	if b.Reports[0].MessageID != "abc@lead.example" {
		t.Errorf("message id %q", b.Reports[0].MessageID)
	}
	changed := []byte(strings.Replace(string(body), "gone@", "else@", 1))
	if _, err := g.Parse(context.Background(), sendgridRequest(t, key, testNow, body), changed); !errors.Is(err, ErrSignature) {
		t.Errorf("changed body: err %v", err)
	}
	if _, err := g.Parse(context.Background(), sendgridRequest(t, key, testNow.Add(-6*time.Minute), body), body); !errors.Is(err, ErrStale) {
		t.Errorf("six-minute-old timestamp: err %v", err)
	}
	if _, err := g.Parse(context.Background(), sendgridRequest(t, key, testNow.Add(6*time.Minute), body), body); !errors.Is(err, ErrStale) {
		t.Errorf("timestamp in the future: err %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := g.Parse(context.Background(), sendgridRequest(t, other, testNow, body), body); !errors.Is(err, ErrSignature) {
		t.Errorf("another key: err %v", err)
	}
	r := sendgridRequest(t, key, testNow, body)
	r.Header.Set("X-Twilio-Email-Event-Webhook-Timestamp", strconv.FormatInt(testNow.Unix()+1, 10))
	if _, err := g.Parse(context.Background(), r, body); !errors.Is(err, ErrSignature) {
		t.Errorf("a changed timestamp header: err %v", err)
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("junk"))} {
		if _, err := ParseSendGridKey(bad); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}

func mailgunBodyFor(key []byte, ts time.Time, token, eventData string) []byte {
	tsh := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(tsh + token))
	return []byte(fmt.Sprintf(`{"signature":{"timestamp":%q,"token":%q,"signature":%q},"event-data":%s}`, tsh, token, hex.EncodeToString(mac.Sum(nil)), eventData))
}

func TestMailgunVerifiesTheHMACAndReturnsTheTokenAsReplayKey(t *testing.T) {
	key := []byte("key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
	m := &MailgunSigned{Key: key, Clock: testClock}
	ev := `{"id":"G9Bn5sl1TC6nu79C8C0bwg","event":"failed","severity":"permanent","recipient":"gone@example.org","timestamp":1764590000.25,"delivery-status":{"code":550,"description":"No such user"},"message":{"headers":{"message-id":"abc@lead.example"}}}`
	body := mailgunBodyFor(key, testNow, "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0", ev)
	b, err := m.Parse(context.Background(), request(body, nil), body)
	if err != nil {
		t.Fatal(err)
	}
	if b.ReplayKey != "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0" || len(b.Reports) != 1 {
		t.Fatalf("batch %+v", b)
	}
	if e := b.Reports[0]; e.Kind != drip.ReportHard || e.MessageID != "abc@lead.example" || e.Reason != "550 No such user" || e.ID != "2025-12-01/G9Bn5sl1TC6nu79C8C0bwg" {
		t.Errorf("event %+v", e)
	}
	for sev, want := range map[string]drip.ReportKind{"temporary": drip.ReportSoft} {
		body := mailgunBodyFor(key, testNow, "t2", strings.Replace(ev, `"permanent"`, strconv.Quote(sev), 1))
		if b, err := m.Parse(context.Background(), request(body, nil), body); err != nil || b.Reports[0].Kind != want {
			t.Errorf("severity %s: %v %+v", sev, err, b)
		}
	}
	body = mailgunBodyFor(key, testNow, "t3", `{"id":"c1","event":"complained","recipient":"a@example.org"}`)
	if b, err := m.Parse(context.Background(), request(body, nil), body); err != nil || b.Reports[0].Kind != drip.ReportComplaint {
		t.Errorf("complaint: %v %+v", err, b)
	}
	forged := mailgunBodyFor([]byte("another key"), testNow, "t4", ev)
	if _, err := m.Parse(context.Background(), request(forged, nil), forged); !errors.Is(err, ErrSignature) {
		t.Errorf("forged: err %v", err)
	}
	// The signature covers only timestamp and token: a copied signature
	// with another token fails.
	var swapped map[string]any
	_ = json.Unmarshal(body, &swapped)
	swapped["signature"].(map[string]any)["token"] = "other-token"
	sb, _ := json.Marshal(swapped)
	if _, err := m.Parse(context.Background(), request(sb, nil), sb); !errors.Is(err, ErrSignature) {
		t.Errorf("swapped token: err %v", err)
	}
	old := mailgunBodyFor(key, testNow.Add(-MailgunWindow-time.Minute), "t5", ev)
	if _, err := m.Parse(context.Background(), request(old, nil), old); !errors.Is(err, ErrStale) {
		t.Errorf("old: err %v", err)
	}
}

func standardRequest(key []byte, id string, ts time.Time, body []byte) *http.Request {
	tsh := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + tsh + "." + string(body)))
	return request(body, map[string]string{"webhook-id": id, "webhook-timestamp": tsh,
		"webhook-signature": "v1,bm90IHRoaXMgb25l v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))})
}

func TestGenericVerifiesTheStandardWebhooksSignature(t *testing.T) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	key, err := ParseStandardSecret("whsec_" + base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		t.Fatal(err)
	}
	g := &StandardWebhooks{Key: key, Clock: testClock}
	body := []byte(`{"email":"gone@example.org","message_id":"<abc@lead.example>","type":"hard","reason":"550 5.1.1"}`)
	b, err := g.Parse(context.Background(), standardRequest(key, "msg_1", testNow, body), body)
	if err != nil || len(b.Reports) != 1 || b.Reports[0].ID != "msg_1" || b.Reports[0].MessageID != "abc@lead.example" || b.Reports[0].Kind != drip.ReportHard {
		t.Fatalf("%v %+v", err, b)
	}
	cases := []struct {
		name string
		r    *http.Request
		body []byte
		want error
	}{
		{"another key", standardRequest([]byte("another key entirely, 32 bytes!!"), "msg_1", testNow, body), body, ErrSignature},
		{"another id", func() *http.Request {
			r := standardRequest(key, "msg_1", testNow, body)
			r.Header.Set("webhook-id", "msg_2")
			return r
		}(), body, ErrSignature},
		{"stale", standardRequest(key, "msg_1", testNow.Add(-10*time.Minute), body), body, ErrStale},
		{"no headers", request(body, nil), body, ErrSignature},
		{"unknown type", standardRequest(key, "m", testNow, []byte(`{"email":"a@b.example","type":"bouncy"}`)), []byte(`{"email":"a@b.example","type":"bouncy"}`), ErrMalformed},
		{"no address", standardRequest(key, "m", testNow, []byte(`{"type":"hard"}`)), []byte(`{"type":"hard"}`), ErrMalformed},
	}
	for _, c := range cases {
		if _, err := g.Parse(context.Background(), c.r, c.body); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	for _, bad := range []string{"", "whsec_", "sk_abc", "whsec_!!", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := ParseStandardSecret(bad); err == nil {
			t.Errorf("secret %q accepted", bad)
		}
	}
}

func TestSESFeedbackIDsMakeTheSameBounceActOnceAndNotSpamIsNoComplaint(t *testing.T) {
	bounce := `{"notificationType":"Bounce","bounce":{"feedbackId":"fb-1","bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@example.org"}]},"mail":{}}`
	published := strings.Replace(bounce, `"notificationType"`, `"eventType"`, 1)
	a, err := parseSES("sns-1", bounce, testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseSES("sns-2", published, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 1 || len(b) != 1 || a[0].ID != b[0].ID {
		t.Errorf("one bounce published twice has ids %v and %v", a, b)
	}
	notSpam := `{"notificationType":"Complaint","complaint":{"feedbackId":"fb-2","complaintFeedbackType":"not-spam","complainedRecipients":[{"emailAddress":"a@example.org"}]},"mail":{}}`
	if r, err := parseSES("sns-3", notSpam, testNow); err != nil || len(r) != 0 {
		t.Errorf("not-spam: %v %v", r, err)
	}
}

func TestSendGridBatchesUpToItsOwnLimitAreRead(t *testing.T) {
	if maxBody(drip.ProviderSendGrid) < 768<<10 || maxBody(drip.ProviderGeneric) != 256<<10 {
		t.Errorf("limits: sendgrid %d, generic %d", maxBody(drip.ProviderSendGrid), maxBody(drip.ProviderGeneric))
	}
}
