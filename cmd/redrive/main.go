// Command redrive moves the messages of an environment's dead-letter queue
// back to its payment queue, once the cause of their failures is fixed
// (docs/RUNBOOK.md, "Replaying the dead-letter queue"). It starts an SQS
// message move task, which moves every message the DLQ holds when it
// starts, and with -wait follows it to the end. Replaying is safe because
// the processor is idempotent: a payment already settled or declined is
// left as it is.
//
//	redrive -env pr123 [-rate 10] [-wait]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/fintech/payments-platform/environment"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, newClient); err != nil {
		fmt.Fprintln(os.Stderr, "redrive:", err)
		os.Exit(1)
	}
}

// queueAPI is the part of SQS a redrive uses.
type queueAPI interface {
	GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(context.Context, *sqs.StartMessageMoveTaskInput, ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(context.Context, *sqs.ListMessageMoveTasksInput, ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
}

func newClient(ctx context.Context, region string) (queueAPI, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg), nil
}

// pollEvery is how often -wait looks at the move task.
var pollEvery = 5 * time.Second

func run(ctx context.Context, args []string, out io.Writer, client func(context.Context, string) (queueAPI, error)) error {
	flags := flag.NewFlagSet("redrive", flag.ContinueOnError)
	flags.SetOutput(out)
	env := flags.String("env", "", "the environment suffix, e.g. pr123 (required)")
	rate := flags.Int("rate", 10, "messages moved per second (1-500): keep it below what the processor settles")
	wait := flags.Bool("wait", false, "follow the move task until it ends")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *env == "" {
		return errors.New("-env is required: the suffix of the environment whose dead-letter queue to replay")
	}
	if *rate < 1 || *rate > 500 {
		return fmt.Errorf("-rate %d: use 1-500 messages per second", *rate)
	}
	cfg, err := environment.Named(*env)
	if err != nil {
		return err
	}
	queues, err := client(ctx, cfg.Region)
	if err != nil {
		return err
	}
	dlq, err := describe(ctx, queues, cfg.DeadLetterQueueName())
	if err != nil {
		return err
	}
	target, err := describe(ctx, queues, cfg.PaymentQueueName())
	if err != nil {
		return err
	}
	if dlq.messages == 0 {
		fmt.Fprintf(out, "%s is empty: nothing to replay\n", cfg.DeadLetterQueueName())
		return nil
	}
	// Finished tasks are listed without their handle: ours is the one with
	// our handle while it runs, then the newest one started since now (SQS
	// runs one move task per queue at a time). A minute allows for clock
	// skew.
	startedAfter := time.Now().Add(-time.Minute).UnixMilli()
	started, err := queues.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{
		SourceArn: aws.String(dlq.arn), DestinationArn: aws.String(target.arn), MaxNumberOfMessagesPerSecond: aws.Int32(int32(*rate)),
	})
	if err != nil {
		return fmt.Errorf("start moving %s to %s: %w", cfg.DeadLetterQueueName(), cfg.PaymentQueueName(), err)
	}
	fmt.Fprintf(out, "moving about %d messages from %s to %s at %d/s (task %s)\n",
		dlq.messages, cfg.DeadLetterQueueName(), cfg.PaymentQueueName(), *rate, aws.ToString(started.TaskHandle))
	if !*wait {
		return nil
	}
	for {
		tasks, err := queues.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(dlq.arn), MaxResults: aws.Int32(10)})
		if err != nil {
			return fmt.Errorf("follow the move task: %w", err)
		}
		task, ok := ourTask(tasks.Results, aws.ToString(started.TaskHandle), startedAfter)
		if !ok {
			return fmt.Errorf("move task %s is not listed", aws.ToString(started.TaskHandle))
		}
		status := aws.ToString(task.Status)
		switch status {
		case "COMPLETED":
			fmt.Fprintf(out, "moved %d messages\n", task.ApproximateNumberOfMessagesMoved)
			return nil
		case "FAILED", "CANCELLED":
			return fmt.Errorf("move task %s after %d messages: %s", status, task.ApproximateNumberOfMessagesMoved, aws.ToString(task.FailureReason))
		}
		fmt.Fprintf(out, "%s: %d of about %d moved\n", status, task.ApproximateNumberOfMessagesMoved, aws.ToInt64(task.ApproximateNumberOfMessagesToMove))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// ourTask picks the task a redrive started from the newest-first list:
// the one with its handle, or, once finished (listed without a handle),
// the newest one started after startedAfter (Unix milliseconds).
func ourTask(tasks []types.ListMessageMoveTasksResultEntry, handle string, startedAfter int64) (types.ListMessageMoveTasksResultEntry, bool) {
	for _, t := range tasks {
		if aws.ToString(t.TaskHandle) == handle {
			return t, true
		}
	}
	for _, t := range tasks {
		if t.TaskHandle == nil && t.StartedTimestamp >= startedAfter {
			return t, true
		}
	}
	return types.ListMessageMoveTasksResultEntry{}, false
}

type queue struct {
	arn      string
	messages int
}

func describe(ctx context.Context, queues queueAPI, name string) (queue, error) {
	url, err := queues.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return queue{}, fmt.Errorf("queue %s: %w", name, err)
	}
	attrs, err := queues.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       url.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn, types.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		return queue{}, fmt.Errorf("queue %s: %w", name, err)
	}
	n, _ := strconv.Atoi(attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	return queue{arn: attrs.Attributes[string(types.QueueAttributeNameQueueArn)], messages: n}, nil
}
