package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeQueues holds queues by name and a move task that finishes after a
// few polls.
type fakeQueues struct {
	messages map[string]int // queue name -> messages
	moves    []*sqs.StartMessageMoveTaskInput
	polls    int
	fail     string // the move task's failure reason, if it fails
	started  int64  // when the move task started (Unix ms)
}

func arn(name string) string { return "arn:aws:sqs:ap-southeast-1:123456789012:" + name }

func (f *fakeQueues) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	if _, ok := f.messages[*in.QueueName]; !ok {
		return nil, &types.QueueDoesNotExist{Message: aws.String("no queue " + *in.QueueName)}
	}
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs/" + *in.QueueName)}, nil
}

func (f *fakeQueues) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	name := strings.TrimPrefix(*in.QueueUrl, "https://sqs/")
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{
		"QueueArn": arn(name), "ApproximateNumberOfMessages": fmt.Sprint(f.messages[name]),
	}}, nil
}

func (f *fakeQueues) StartMessageMoveTask(_ context.Context, in *sqs.StartMessageMoveTaskInput, _ ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	f.moves = append(f.moves, in)
	f.started = time.Now().UnixMilli()
	return &sqs.StartMessageMoveTaskOutput{TaskHandle: aws.String("task-1")}, nil
}

func (f *fakeQueues) ListMessageMoveTasks(_ context.Context, in *sqs.ListMessageMoveTasksInput, _ ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error) {
	f.polls++
	// Newest first; as SQS does, only a running task carries its handle.
	task := types.ListMessageMoveTasksResultEntry{SourceArn: in.SourceArn, Status: aws.String("RUNNING"), TaskHandle: aws.String("task-1"),
		ApproximateNumberOfMessagesMoved: int64(f.polls), ApproximateNumberOfMessagesToMove: aws.Int64(3), StartedTimestamp: f.started}
	switch {
	case f.polls >= 3 && f.fail != "":
		task.Status, task.FailureReason, task.TaskHandle = aws.String("FAILED"), aws.String(f.fail), nil
	case f.polls >= 3:
		task.Status, task.TaskHandle = aws.String("COMPLETED"), nil
	}
	// Yesterday's replay, finished, must never be taken for this one.
	yesterday := types.ListMessageMoveTasksResultEntry{SourceArn: in.SourceArn, Status: aws.String("COMPLETED"),
		ApproximateNumberOfMessagesMoved: 99, StartedTimestamp: f.started - 86_400_000}
	return &sqs.ListMessageMoveTasksOutput{Results: []types.ListMessageMoveTasksResultEntry{task, yesterday}}, nil
}

func redrive(t *testing.T, f *fakeQueues, args ...string) (string, error) {
	t.Helper()
	pollEvery = 0
	var out strings.Builder
	err := run(context.Background(), args, &out, func(_ context.Context, region string) (queueAPI, error) {
		if region != "ap-southeast-1" {
			return nil, errors.New("wrong region " + region)
		}
		return f, nil
	})
	return out.String(), err
}

func TestRedrive(t *testing.T) {
	queues := func(dlq int) *fakeQueues {
		return &fakeQueues{messages: map[string]int{"payments-payments-pr1": 0, "payments-payments-dlq-pr1": dlq}}
	}

	t.Run("OK", func(t *testing.T) {
		f := queues(3)
		out, err := redrive(t, f, "-env", "pr1", "-rate", "5", "-wait")
		if err != nil {
			t.Fatal(err)
		}
		if len(f.moves) != 1 || *f.moves[0].SourceArn != arn("payments-payments-dlq-pr1") ||
			*f.moves[0].DestinationArn != arn("payments-payments-pr1") || *f.moves[0].MaxNumberOfMessagesPerSecond != 5 {
			t.Errorf("move %+v", f.moves)
		}
		if !strings.Contains(out, "moved 3 messages") {
			t.Errorf("output %q", out)
		}
	})

	t.Run("EmptyQueueMovesNothing", func(t *testing.T) {
		f := queues(0)
		out, err := redrive(t, f, "-env", "pr1")
		if err != nil || len(f.moves) != 0 || !strings.Contains(out, "is empty") {
			t.Errorf("err %v moves %d output %q", err, len(f.moves), out)
		}
	})

	t.Run("ErrTaskFailed", func(t *testing.T) {
		f := queues(3)
		f.fail = "AccessDenied on the messaging key"
		if _, err := redrive(t, f, "-env", "pr1", "-wait"); err == nil || !strings.Contains(err.Error(), "FAILED after 3 messages: AccessDenied") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("ErrNoSuchEnvironment", func(t *testing.T) {
		if _, err := redrive(t, queues(1), "-env", "pr2"); err == nil || !strings.Contains(err.Error(), "queue payments-payments-dlq-pr2") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("ErrArguments", func(t *testing.T) {
		for _, args := range [][]string{nil, {"-env", "PR1"}, {"-env", "pr1", "-rate", "0"}} {
			if _, err := redrive(t, queues(1), args...); err == nil {
				t.Errorf("%v accepted", args)
			}
		}
	})
}
