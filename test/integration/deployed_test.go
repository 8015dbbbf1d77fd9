package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/payments"
)

// Bounds on asynchronous work. A payment settles through the outbox relay,
// SQS and the processor Lambda: seconds normally; the processing-p99 alarm
// fires at 30 s. S3 replication without Replication Time Control has no
// SLA; most objects replicate within minutes.
const (
	settleWithin    = 60 * time.Second
	replicateWithin = 15 * time.Minute
)

// The front door: a payment made with a client certificate and an API key
// is created (201), replays on retry without a second charge, and settles.
func TestPaymentThroughMutualTLS(t *testing.T) {
	o := environment(t)
	api := newAPIClient(t, o, true)
	key := idempotencyKey(t)
	body := newPayment("integration " + key)

	created := api.do(t, "POST", "/v1/payments", key, body)
	if created.status != http.StatusCreated {
		t.Fatalf("POST /v1/payments: %d %s, want 201", created.status, created.body)
	}
	var p payments.Payment
	if err := json.Unmarshal(created.body, &p); err != nil || p.ID == "" {
		t.Fatalf("POST /v1/payments: body %s: %v", created.body, err)
	}

	replay := api.do(t, "POST", "/v1/payments", key, body)
	var again payments.Payment
	_ = json.Unmarshal(replay.body, &again)
	if replay.status != http.StatusCreated || replay.header.Get("Idempotent-Replayed") != "true" || again.ID != p.ID {
		t.Errorf("retry with the same Idempotency-Key: %d %s (Idempotent-Replayed %q), want the same payment %s replayed",
			replay.status, replay.body, replay.header.Get("Idempotent-Replayed"), p.ID)
	}

	deadline := time.Now().Add(settleWithin)
	for {
		got := api.do(t, "GET", "/v1/payments/"+p.ID, "", nil)
		var current payments.Payment
		if got.status == http.StatusOK && json.Unmarshal(got.body, &current) == nil && current.Status == payments.StatusSettled {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s not settled within %s: last GET %d %s", p.ID, settleWithin, got.status, got.body)
		}
		time.Sleep(2 * time.Second)
	}
}

// Without a client certificate the TLS handshake with the custom domain
// fails: no HTTP response at all.
func TestNoClientCertificateFailsHandshake(t *testing.T) {
	o := environment(t)
	api := newAPIClient(t, o, false)
	req := api.request(t, "GET", "/v1/payments/00000000-0000-0000-0000-000000000000", "", nil)
	resp, err := api.client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("request without a client certificate got HTTP %d, want a failed TLS handshake", resp.StatusCode)
	}
	if !tlsRefusal(err) {
		t.Errorf("request without a client certificate failed with %v, want a TLS alert from the server", err)
	}
}

// tlsRefusal tells a server's TLS alert (it refused the handshake, e.g.
// "certificate required") from other failures such as DNS or timeouts.
func tlsRefusal(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "remote error" && strings.HasPrefix(opErr.Err.Error(), "tls: ")
}

// With a certificate but no API key, API Gateway answers 403.
func TestNoAPIKeyIsForbidden(t *testing.T) {
	o := environment(t)
	api := newAPIClient(t, o, true)
	api.apiKey = ""
	if got := api.do(t, "POST", "/v1/payments", idempotencyKey(t), newPayment("no api key")); got.status != http.StatusForbidden {
		t.Errorf("POST without an API key: %d %s, want 403", got.status, got.body)
	}
}

// The ALB is not on the internet: its name resolves to private addresses
// only (an internal load balancer), and a connection to it from where the
// tests run does not open (its security group admits API Gateway's VPC link
// alone, so not even a host inside the VPC gets through).
func TestALBIsNotReachableDirectly(t *testing.T) {
	o := environment(t)
	addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", o["AlbDnsName"])
	if err != nil || len(addrs) == 0 {
		t.Fatalf("resolve %s: %v", o["AlbDnsName"], err)
	}
	for _, a := range addrs {
		if !a.IsPrivate() {
			t.Errorf("%s resolves to %s, a public address: the ALB is internet-facing", o["AlbDnsName"], a)
		}
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(o["AlbDnsName"], "443"), 10*time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("a TCP connection to %s:443 opened: the ALB admits more than the VPC link", o["AlbDnsName"])
	}
}

// SQL injection and cross-site scripting in a field that passes API
// Gateway's schema reach WAF, which answers with its own problem.
func TestWAFBlocksInjection(t *testing.T) {
	o := environment(t)
	api := newAPIClient(t, o, true)
	for name, reference := range map[string]string{
		"SQLi": "x' OR 1=1; DROP TABLE payments; --",
		"XSS":  "<script>alert(document.cookie)</script>",
	} {
		t.Run(name, func(t *testing.T) {
			got := api.do(t, "POST", "/v1/payments", idempotencyKey(t), newPayment(reference))
			if got.status != http.StatusForbidden || got.problemCode() != "request-blocked" {
				t.Errorf("%s payload: %d %s, want 403 with WAF's request-blocked problem", name, got.status, got.body)
			}
		})
	}
}

// The dashboard the DashboardUrl output opens exists and shows the
// transaction metrics our code emits.
func TestDashboardExists(t *testing.T) {
	o := environment(t)
	name, _ := o.DashboardName()
	cw := cloudwatch.NewFromConfig(awsConfig(t, primaryRegion(t, o)))
	got, err := cw.GetDashboard(context.Background(), &cloudwatch.GetDashboardInput{DashboardName: &name})
	if err != nil {
		t.Fatalf("dashboard %s: %v", name, err)
	}
	for _, metric := range []string{"ProcessingTime", "PaymentsSettled", "PaymentsFailed"} {
		if !strings.Contains(aws.ToString(got.DashboardBody), metric) {
			t.Errorf("dashboard %s does not show %s", name, metric)
		}
	}
}

// An object written to the document bucket appears in the replica bucket,
// in the other region, encrypted with KMS there too.
func TestDocumentsReplicate(t *testing.T) {
	o := environment(t)
	ctx := context.Background()
	source := s3.NewFromConfig(awsConfig(t, primaryRegion(t, o)))
	replica := s3.NewFromConfig(awsConfig(t, o["ReplicaRegion"]))
	bucket, replicaBucket := o["DocumentBucketName"], o["ReplicaBucketName"]
	key := "integration/" + idempotencyKey(t) + ".txt"

	put, err := source.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader("replication check")})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
	t.Cleanup(func() {
		source.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key, VersionId: put.VersionId})
		replica.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &replicaBucket, Key: &key, VersionId: put.VersionId})
	})
	if put.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms {
		t.Errorf("source object encryption %q, want aws:kms", put.ServerSideEncryption)
	}

	deadline := time.Now().Add(replicateWithin)
	for {
		head, err := source.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key, VersionId: put.VersionId})
		if err != nil {
			t.Fatalf("head s3://%s/%s: %v", bucket, key, err)
		}
		if head.ReplicationStatus == s3types.ReplicationStatusFailed {
			t.Fatalf("replication of s3://%s/%s failed", bucket, key)
		}
		// S3 documents COMPLETED for a replicated source object; the SDK also
		// knows COMPLETE.
		if head.ReplicationStatus == s3types.ReplicationStatusCompleted || head.ReplicationStatus == s3types.ReplicationStatusComplete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("s3://%s/%s not replicated within %s (status %q)", bucket, key, replicateWithin, head.ReplicationStatus)
		}
		time.Sleep(10 * time.Second)
	}
	head, err := replica.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &replicaBucket, Key: &key, VersionId: put.VersionId})
	if err != nil {
		t.Fatalf("replica s3://%s/%s: %v", replicaBucket, key, err)
	}
	if head.ReplicationStatus != s3types.ReplicationStatusReplica || head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms {
		t.Errorf("replica: status %q, encryption %q; want REPLICA and aws:kms", head.ReplicationStatus, head.ServerSideEncryption)
	}
}

// The database credential and every merchant's API key rotate every 30
// days.
func TestSecretsRotateEvery30Days(t *testing.T) {
	o := environment(t)
	sm := secretsmanager.NewFromConfig(awsConfig(t, primaryRegion(t, o)))
	for name, arn := range map[string]string{"database": o["DatabaseSecretArn"], "merchant API key": merchantOfDevCertificate(t, o).secretArn} {
		t.Run(name, func(t *testing.T) {
			got, err := sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			rules := got.RotationRules
			every30 := rules != nil && (aws.ToInt64(rules.AutomaticallyAfterDays) == 30 || aws.ToString(rules.ScheduleExpression) == "rate(30 days)")
			if !aws.ToBool(got.RotationEnabled) || !every30 || aws.ToString(got.RotationLambdaARN) == "" {
				t.Errorf("%s: rotation enabled %v, rules %+v, lambda %q; want every 30 days by a rotation Lambda",
					arn, aws.ToBool(got.RotationEnabled), rules, aws.ToString(got.RotationLambdaARN))
			}
		})
	}
}

// Every request acts for the merchant its credentials belong to: another
// merchant's payment is not found, a body naming another merchant is
// refused, and one merchant's key with another's certificate gets nowhere.
func TestMerchantsAreIsolated(t *testing.T) {
	o := environment(t)
	a, b := merchantOfDevCertificate(t, o), secondMerchant(t, o)
	asA, asB := clientAs(o, a.cert, a.apiKey), clientAs(o, b.cert, b.apiKey)
	created := asA.do(t, "POST", "/v1/payments", idempotencyKey(t), newPayment("isolation"))
	var p payments.Payment
	if created.status != http.StatusCreated || json.Unmarshal(created.body, &p) != nil {
		t.Fatalf("A creates: %d %s", created.status, created.body)
	}
	if got := asB.do(t, "GET", "/v1/payments/"+p.ID, "", nil); got.status != http.StatusNotFound || got.problemCode() != "payment_not_found" {
		t.Errorf("B reads A's payment: %d %s, want 404", got.status, got.body)
	}
	if got := asB.do(t, "POST", "/v1/payments", idempotencyKey(t), newPayment("for A")); got.status != http.StatusForbidden || got.problemCode() != "merchant_mismatch" {
		t.Errorf("B pays for A (merchantId in the body): %d %s, want 403 merchant_mismatch", got.status, got.body)
	}
	mixed := clientAs(o, b.cert, a.apiKey)
	if got := mixed.do(t, "GET", "/v1/payments/"+p.ID, "", nil); got.status != http.StatusForbidden || got.problemCode() != "credentials_mismatch" {
		t.Errorf("A's key with B's certificate: %d %s, want 403 credentials_mismatch", got.status, got.body)
	}
	// A client's own identity headers never count: API Gateway sets them
	// (replacing, or else the service refuses a header sent twice).
	aCert, err := x509.ParseCertificate(a.cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	forging := clientAs(o, b.cert, b.apiKey)
	forging.headers = map[string]string{
		gateway.HeaderClientCertSubject: aCert.Subject.String(), gateway.HeaderClientCertIssuer: aCert.Issuer.String(),
		gateway.HeaderAPIKeyID: "forged",
	}
	if got := forging.do(t, "GET", "/v1/payments/"+p.ID, "", nil); got.status == http.StatusOK {
		t.Errorf("B with A's identity headers read A's payment: %s", got.body)
	} else if got.status != http.StatusNotFound && got.problemCode() != "credentials_ambiguous" {
		t.Errorf("B with forged identity headers: %d %s, want B's 404 or a refusal", got.status, got.body)
	}
	list := asA.do(t, "GET", "/v1/payments?limit=100", "", nil)
	if list.status != http.StatusOK || !strings.Contains(string(list.body), p.ID) {
		t.Errorf("A's list: %d, want its payment %s", list.status, p.ID)
	}
	if list := asB.do(t, "GET", "/v1/payments?limit=100", "", nil); strings.Contains(string(list.body), p.ID) {
		t.Errorf("B's list shows A's payment %s", p.ID)
	}
}

// What API Gateway refuses itself is a problem too: an unknown path, a body
// its model refuses, a key it does not know.
func TestGatewayAnswersProblems(t *testing.T) {
	o := environment(t)
	api := newAPIClient(t, o, true)
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		apiKey             string
		status             int
		code               string
	}{
		{"UnknownPath", "GET", "/v1/nothing", nil, api.apiKey, http.StatusNotFound, "not_found"},
		{"ModelRefusesBody", "POST", "/v1/payments", []byte(`{"amount":"12.50","currency":"SGD"}`), api.apiKey, http.StatusBadRequest, "request_body_invalid"},
		{"UnknownAPIKey", "GET", "/v1/payments", nil, "not-a-key-of-this-api-0123456789", http.StatusForbidden, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := *api
			client.apiKey = tc.apiKey
			key := ""
			if tc.method == "POST" {
				key = idempotencyKey(t)
			}
			got := client.do(t, tc.method, tc.path, key, tc.body)
			if got.status != tc.status || got.header.Get("Content-Type") != "application/problem+json" || got.problemCode() == "" ||
				tc.code != "" && got.problemCode() != tc.code {
				t.Errorf("%d %q %s, want %d problem %s", got.status, got.header.Get("Content-Type"), got.body, tc.status, tc.code)
			}
		})
	}
}

// The cluster: IAM database authentication on, encrypted, one writer and
// two readers.
func TestClusterUsesIAMAuth(t *testing.T) {
	o := environment(t)
	client := rds.NewFromConfig(awsConfig(t, primaryRegion(t, o)))
	got, err := client.DescribeDBClusters(context.Background(), &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(o["DatabaseClusterIdentifier"])})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.DBClusters) != 1 {
		t.Fatalf("%d clusters named %s", len(got.DBClusters), o["DatabaseClusterIdentifier"])
	}
	c := got.DBClusters[0]
	if !aws.ToBool(c.IAMDatabaseAuthenticationEnabled) || !aws.ToBool(c.StorageEncrypted) {
		t.Errorf("IAM auth %v, storage encrypted %v; want both", aws.ToBool(c.IAMDatabaseAuthenticationEnabled), aws.ToBool(c.StorageEncrypted))
	}
	writers := 0
	for _, m := range c.DBClusterMembers {
		if aws.ToBool(m.IsClusterWriter) {
			writers++
		}
	}
	if writers != 1 || len(c.DBClusterMembers) != 3 {
		t.Errorf("%d members, %d writers; want 1 writer and 2 readers", len(c.DBClusterMembers), writers)
	}
}

// apiClient calls the API through its mutual-TLS domain.
type apiClient struct {
	client   *http.Client
	endpoint string
	apiKey   string
	headers  map[string]string // extra request headers
}

// newAPIClient calls as merchant A: its client certificate (or none) and
// its API key.
func newAPIClient(t *testing.T, o Outputs, withCertificate bool) *apiClient {
	t.Helper()
	m := merchantOfDevCertificate(t, o)
	if !withCertificate {
		m.cert = tls.Certificate{}
	}
	return clientAs(o, m.cert, m.apiKey)
}

// clientAs calls with this certificate (none when empty) and API key.
func clientAs(o Outputs, cert tls.Certificate, apiKey string) *apiClient {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cert.Certificate != nil {
		tlsConfig.Certificates = []tls.Certificate{cert}
	}
	return &apiClient{
		client:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}},
		endpoint: strings.TrimSuffix(o["ApiEndpoint"], "/"),
		apiKey:   apiKey,
	}
}

func (a *apiClient) request(t *testing.T, method, path, idempotencyKey string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, a.endpoint+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	if a.apiKey != "" {
		req.Header.Set("x-api-key", a.apiKey)
	}
	for k, v := range a.headers {
		req.Header.Set(k, v)
	}
	return req
}

func (a *apiClient) do(t *testing.T, method, path, idempotencyKey string, body []byte) response {
	t.Helper()
	return send(t, a.client, a.request(t, method, path, idempotencyKey, body))
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// problemCode is the code of an RFC 9457 problem body, "" otherwise.
func (r response) problemCode() string {
	var p struct{ Code string }
	_ = json.Unmarshal(r.body, &p)
	return p.Code
}

func send(t *testing.T, client *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func newPayment(reference string) []byte {
	body, _ := json.Marshal(map[string]any{
		"merchantId": merchantA, "amount": 1250, "currency": "SGD",
		"paymentMethodToken": "tok_integration_approve", "reference": reference,
	})
	return body
}

func idempotencyKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("it-%d-%s", time.Now().Unix(), hex.EncodeToString(b))
}
