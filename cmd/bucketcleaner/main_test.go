package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// fakeBucket holds versions and delete markers and pages them like S3. It
// can receive late deliveries (objects that arrive after each emptying, as
// access logs do) and be deleted.
type fakeBucket struct {
	objects   []types.ObjectIdentifier // every version and marker
	pageSize  int
	failKey   string
	deleteErr error
	// lateDeliveries objects arrive right after each of the first
	// lateRounds emptyings.
	lateDeliveries, lateRounds int
	emptied                    int
	gone                       bool
	// governanceLocked versions are refused unless the deletion bypasses
	// governance retention, as S3 Object Lock does.
	governanceLocked  bool
	deleteBucketCalls int
}

func apiError(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }

func (f *fakeBucket) DeleteBucket(_ context.Context, _ *s3.DeleteBucketInput, _ ...func(*s3.Options)) (*s3.DeleteBucketOutput, error) {
	f.deleteBucketCalls++
	switch {
	case f.gone:
		return nil, apiError("NoSuchBucket")
	case len(f.objects) > 0:
		return nil, apiError("BucketNotEmpty")
	}
	f.gone = true
	return &s3.DeleteBucketOutput{}, nil
}

func (f *fakeBucket) ListObjectVersions(_ context.Context, in *s3.ListObjectVersionsInput, _ ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	if f.gone {
		return nil, apiError("NoSuchBucket")
	}
	// Like S3, a page starts after the key marker, so objects deleted
	// between pages do not shift the listing.
	sorted := slices.SortedFunc(slices.Values(f.objects), func(a, b types.ObjectIdentifier) int {
		return strings.Compare(aws.ToString(a.Key), aws.ToString(b.Key))
	})
	start := 0
	if in.KeyMarker != nil {
		start = len(sorted)
		for i, o := range sorted {
			if aws.ToString(o.Key) > aws.ToString(in.KeyMarker) {
				start = i
				break
			}
		}
	}
	end := min(start+f.pageSize, len(sorted))
	out := &s3.ListObjectVersionsOutput{}
	for i, o := range sorted[start:end] {
		if (start+i)%2 == 0 {
			out.Versions = append(out.Versions, types.ObjectVersion{Key: o.Key, VersionId: o.VersionId})
		} else {
			out.DeleteMarkers = append(out.DeleteMarkers, types.DeleteMarkerEntry{Key: o.Key, VersionId: o.VersionId})
		}
	}
	if end < len(sorted) {
		out.IsTruncated = aws.Bool(true)
		out.NextKeyMarker = sorted[end-1].Key
		out.NextVersionIdMarker = aws.String("v")
	}
	return out, nil
}

func (f *fakeBucket) DeleteObjects(_ context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	out := &s3.DeleteObjectsOutput{}
	deleted := map[string]bool{}
	for _, o := range in.Delete.Objects {
		if aws.ToString(o.Key) == f.failKey || (f.governanceLocked && !aws.ToBool(in.BypassGovernanceRetention)) {
			out.Errors = append(out.Errors, types.Error{Key: o.Key, Message: aws.String("AccessDenied")})
			continue
		}
		deleted[aws.ToString(o.Key)+"@"+aws.ToString(o.VersionId)] = true
	}
	var kept []types.ObjectIdentifier
	for _, o := range f.objects {
		if !deleted[aws.ToString(o.Key)+"@"+aws.ToString(o.VersionId)] {
			kept = append(kept, o)
		}
	}
	f.objects = kept
	if len(f.objects) == 0 {
		f.emptied++
		if f.emptied <= f.lateRounds {
			for i := range f.lateDeliveries {
				f.objects = append(f.objects, types.ObjectIdentifier{Key: aws.String(fmt.Sprintf("late-%d-%d", f.emptied, i)), VersionId: aws.String("v1")})
			}
		}
	}
	return out, nil
}

func newBucket(n int) *fakeBucket {
	f := &fakeBucket{pageSize: 3}
	for i := range n {
		f.objects = append(f.objects, types.ObjectIdentifier{Key: aws.String(fmt.Sprintf("doc-%03d", i)), VersionId: aws.String("v1")})
	}
	return f
}

func event(requestType cfn.RequestType) cfn.Event {
	return cfn.Event{RequestType: requestType, ResourceProperties: map[string]any{"BucketName": "payments-docs-pr1"}}
}

func TestHandle(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Run("DeleteEmptiesEveryPageAndDeletesTheBucket", func(t *testing.T) {
		f := newBucket(7)
		c := cleaner{s3: f, log: quiet}
		id, _, err := c.handle(ctx, event(cfn.RequestDelete))
		if err != nil || id != "empty-on-delete-payments-docs-pr1" {
			t.Fatalf("id=%q err=%v", id, err)
		}
		if !f.gone || len(f.objects) != 0 {
			t.Errorf("bucket gone=%v with %d objects left, want deleted", f.gone, len(f.objects))
		}
	})

	// Access logs keep arriving after their sources are gone: the bucket is
	// emptied again until it can be deleted.
	t.Run("LateDeliveriesAreEmptiedUntilTheBucketIsGone", func(t *testing.T) {
		f := newBucket(5)
		f.lateDeliveries, f.lateRounds = 3, 2
		deleted, rounds, err := cleaner{s3: f, log: quiet}.remove(ctx, "payments-logs-pr1", false)
		if err != nil || !f.gone {
			t.Fatalf("err=%v gone=%v", err, f.gone)
		}
		if got, want := deleted, 5+2*3; got != want || rounds != 3 {
			t.Errorf("deleted %d objects in %d rounds, want %d in 3", got, rounds, want)
		}
	})

	// An Object Lock bucket in governance mode is emptied only when its
	// resource asks for the bypass, and then it is.
	t.Run("GovernanceRetentionIsBypassedOnlyWhenAsked", func(t *testing.T) {
		locked := newBucket(3)
		locked.governanceLocked = true
		if _, _, err := (cleaner{s3: locked, log: quiet}).handle(ctx, event(cfn.RequestDelete)); err == nil || locked.gone {
			t.Fatalf("a governance-locked bucket was emptied without the bypass: err=%v", err)
		}
		e := event(cfn.RequestDelete)
		e.ResourceProperties["BypassGovernanceRetention"] = "true"
		if _, _, err := (cleaner{s3: locked, log: quiet}).handle(ctx, e); err != nil || !locked.gone {
			t.Fatalf("with the bypass: gone=%v err=%v", locked.gone, err)
		}
	})

	t.Run("ABucketAlreadyGoneIsRemoved", func(t *testing.T) {
		f := newBucket(0)
		f.gone = true
		if _, _, err := (cleaner{s3: f, log: quiet}).handle(ctx, event(cfn.RequestDelete)); err != nil {
			t.Fatalf("a bucket deleted earlier (a retried delete) must not fail the stack: %v", err)
		}
	})

	t.Run("ErrBucketKeepsFilling", func(t *testing.T) {
		f := newBucket(1)
		f.lateDeliveries, f.lateRounds = 1, maxRounds+1
		_, rounds, err := cleaner{s3: f, log: quiet}.remove(ctx, "payments-logs-pr1", false)
		if err == nil || !strings.Contains(err.Error(), "still receives objects") || rounds != maxRounds || f.gone {
			t.Fatalf("rounds=%d gone=%v err=%v", rounds, f.gone, err)
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
		f.failKey = "doc-002"
		_, _, err := cleaner{s3: f, log: quiet}.handle(ctx, event(cfn.RequestDelete))
		if err == nil || !strings.Contains(err.Error(), "doc-002: AccessDenied") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrBucketNameMissing", func(t *testing.T) {
		if _, _, err := (cleaner{s3: newBucket(0), log: quiet}).handle(ctx, cfn.Event{RequestType: cfn.RequestDelete}); err == nil {
			t.Fatal("accepted an event without BucketName")
		}
	})
}
