package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// fakeBucket holds versions and delete markers and pages them like S3.
type fakeBucket struct {
	objects   []types.ObjectIdentifier // every version and marker
	pageSize  int
	failKey   string
	deleteErr error
}

func (f *fakeBucket) ListObjectVersions(_ context.Context, in *s3.ListObjectVersionsInput, _ ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	start := 0
	if in.KeyMarker != nil {
		fmt.Sscan(aws.ToString(in.KeyMarker), &start)
	}
	end := min(start+f.pageSize, len(f.objects))
	out := &s3.ListObjectVersionsOutput{}
	for i, o := range f.objects[start:end] {
		if (start+i)%2 == 0 {
			out.Versions = append(out.Versions, types.ObjectVersion{Key: o.Key, VersionId: o.VersionId})
		} else {
			out.DeleteMarkers = append(out.DeleteMarkers, types.DeleteMarkerEntry{Key: o.Key, VersionId: o.VersionId})
		}
	}
	if end < len(f.objects) {
		out.IsTruncated = aws.Bool(true)
		out.NextKeyMarker = aws.String(fmt.Sprint(end))
		out.NextVersionIdMarker = aws.String("v")
	}
	return out, nil
}

func (f *fakeBucket) DeleteObjects(_ context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	out := &s3.DeleteObjectsOutput{}
	for _, o := range in.Delete.Objects {
		if aws.ToString(o.Key) == f.failKey {
			out.Errors = append(out.Errors, types.Error{Key: o.Key, Message: aws.String("AccessDenied")})
		}
	}
	return out, nil
}

func newBucket(n int) *fakeBucket {
	f := &fakeBucket{pageSize: 3}
	for i := range n {
		f.objects = append(f.objects, types.ObjectIdentifier{Key: aws.String(fmt.Sprintf("doc-%d", i)), VersionId: aws.String("v1")})
	}
	return f
}

func event(requestType cfn.RequestType) cfn.Event {
	return cfn.Event{RequestType: requestType, ResourceProperties: map[string]any{"BucketName": "payments-docs-pr1"}}
}

func TestHandle(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Run("DeleteEmptiesEveryPage", func(t *testing.T) {
		c := cleaner{s3: newBucket(7), log: quiet}
		id, _, err := c.handle(ctx, event(cfn.RequestDelete))
		if err != nil || id != "empty-on-delete-payments-docs-pr1" {
			t.Fatalf("id=%q err=%v", id, err)
		}
		if n, _ := c.empty(ctx, "b"); n != 7 {
			t.Errorf("deleted %d versions and markers, want 7", n)
		}
	})

	t.Run("CreateAndUpdateTouchNothing", func(t *testing.T) {
		f := newBucket(2)
		f.deleteErr = errors.New("must not be called")
		c := cleaner{s3: f, log: quiet}
		for _, rt := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate} {
			if _, _, err := c.handle(ctx, event(rt)); err != nil {
				t.Errorf("%s: %v", rt, err)
			}
		}
	})

	t.Run("ErrObjectNotDeleted", func(t *testing.T) {
		f := newBucket(4)
		f.failKey = "doc-2"
		_, _, err := cleaner{s3: f, log: quiet}.handle(ctx, event(cfn.RequestDelete))
		if err == nil || !strings.Contains(err.Error(), "doc-2: AccessDenied") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrBucketNameMissing", func(t *testing.T) {
		if _, _, err := (cleaner{s3: newBucket(0), log: quiet}).handle(ctx, cfn.Event{RequestType: cfn.RequestDelete}); err == nil {
			t.Fatal("accepted an event without BucketName")
		}
	})
}
