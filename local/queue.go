//go:build linux

package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/fintech/payments-platform/environment"
)

// Region is the platform's region, which the local queue server reports in
// its ARNs.
const Region = "ap-southeast-1"

// The local environment's queue names.
var queueConfig = environment.Config{EnvironmentSuffix: "local"}

// startQueue starts fauxqs on a free loopback port with the pinned Node.js
// and creates the payment queue and its dead-letter queue.
func (p *Platform) startQueue(ctx context.Context) error {
	addr, err := freeAddr("127.0.0.1:0")
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(addr)
	app := filepath.Join(p.opts.Root, "tools", "localsqs", "node_modules", "fauxqs", "dist", "app.js")
	node := filepath.Join(p.opts.Root, "node_modules", "node", "bin", "node")
	for _, path := range []string{node, app} {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("local: %s is missing: make run installs it (npm ci, npm ci --prefix tools/localsqs)", path)
		}
	}
	// Its command line listens on every interface and logs every request:
	// its app is started here on loopback only, without request logs.
	start := fmt.Sprintf(`import(%q).then((m) => m.buildApp({ logger: false, host: "127.0.0.1", defaultRegion: %q }).listen({ port: %s, host: "127.0.0.1" }))`,
		"file://"+app, Region, port)
	p.queue, err = startProcess(p.opts.Log, "sqs", node, []string{"-e", start}, nil)
	if err != nil {
		return err
	}
	p.queue.url = "http://" + addr
	client := p.queueClient(ctx)
	if err := waitFor(ctx, 30*time.Second, func() error {
		_, err := client.ListQueues(ctx, &sqs.ListQueuesInput{})
		return err
	}); err != nil {
		return err
	}
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queueConfig.DeadLetterQueueName())})
	if err != nil {
		return fmt.Errorf("local: create the dead-letter queue: %w", err)
	}
	p.DeadLetterQueueURL = aws.ToString(dlq.QueueUrl)
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return err
	}
	redrive, _ := json.Marshal(map[string]string{
		"deadLetterTargetArn": attrs.Attributes[string(types.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     strconv.Itoa(environment.PaymentMaxReceiveCount),
	})
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queueConfig.PaymentQueueName()), Attributes: map[string]string{
		string(types.QueueAttributeNameVisibilityTimeout): strconv.Itoa(int(p.opts.VisibilityTimeout.Seconds())),
		string(types.QueueAttributeNameRedrivePolicy):     string(redrive),
	}})
	if err != nil {
		return fmt.Errorf("local: create the payment queue: %w", err)
	}
	p.QueueURL = aws.ToString(q.QueueUrl)
	return nil
}

// queueClient is an SQS client of the local queue server.
func (p *Platform) queueClient(context.Context) *sqs.Client {
	return sqs.New(sqs.Options{
		Region: Region, BaseEndpoint: aws.String(p.queue.url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}, nil
		}),
	})
}

// QueueDepth is how many messages the queue holds, visible or in flight.
func (p *Platform) QueueDepth(ctx context.Context, queueURL string) (int, error) {
	out, err := p.queueClient(ctx).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return 0, err
	}
	visible, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible + inFlight, nil
}

// invokeEmulator posts an event to the Runtime Interface Emulator's invoke
// endpoint and returns the function's response; a function error (the
// runtime's error document) is an error.
func invokeEmulator(ctx context.Context, target string, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var failure struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke: %s: %s", resp.Status, body)
	}
	if json.Unmarshal(body, &failure) == nil && failure.ErrorType != "" {
		return nil, fmt.Errorf("the function failed: %s: %s", failure.ErrorType, failure.ErrorMessage)
	}
	return body, nil
}

// batchFailures reads the processor's partial-batch response. As Lambda
// does, a failure naming no message of the batch fails the whole batch.
func batchFailures(body []byte, batch []events.SQSMessage) (map[string]bool, error) {
	var resp events.SQSEventResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, errors.New("the function's response is not a batch response")
	}
	inBatch := map[string]bool{}
	for _, m := range batch {
		inBatch[m.MessageId] = true
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		if !inBatch[f.ItemIdentifier] {
			return nil, fmt.Errorf("the function reported a failure of %q, not a message of the batch", f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	return failed, nil
}
