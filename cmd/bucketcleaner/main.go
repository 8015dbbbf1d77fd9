// Command bucketcleaner is a CloudFormation custom resource that empties and
// deletes a versioned bucket (every object version and delete marker) when
// the resource is deleted, so that a non-production stack can be destroyed.
// It does nothing on create and update. It exists instead of CDK's
// autoDeleteObjects, whose bucket policy grants wildcard actions
// (s3:DeleteObject*, s3:List*).
//
// It deletes the bucket itself because emptying once is not enough: S3
// server access logs and ALB access logs keep arriving in a log bucket for
// hours after their sources are gone, so the bucket may hold new objects by
// the time CloudFormation deletes it. Emptying and deleting in a loop until
// DeleteBucket succeeds ends that race; CloudFormation then finds the bucket
// gone, which a delete accepts.
//
// A bucket with S3 Object Lock in governance mode (the audit anchors of a
// non-production environment) is emptied only when its resource says so
// (BypassGovernanceRetention "true"): the deletions then carry the bypass
// header, which the cleaner's role may send for that bucket alone. Compliance
// mode cannot be bypassed by anyone, which is why production uses it.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// objectAPI is the part of the S3 client the cleaner uses.
type objectAPI interface {
	ListObjectVersions(context.Context, *s3.ListObjectVersionsInput, ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	DeleteBucket(context.Context, *s3.DeleteBucketInput, ...func(*s3.Options)) (*s3.DeleteBucketOutput, error)
}

// maxRounds bounds the empty-and-delete loop. Late log deliveries are a
// trickle (a file per source every few minutes), so a round almost always
// wins; the bound only stops a bucket that something keeps filling.
const maxRounds = 20

type cleaner struct {
	s3  objectAPI
	log *slog.Logger
}

func (c cleaner) handle(ctx context.Context, e cfn.Event) (string, map[string]any, error) {
	bucket, _ := e.ResourceProperties["BucketName"].(string)
	if bucket == "" {
		return "", nil, errors.New("bucketcleaner: the BucketName property is required")
	}
	physicalID := "empty-on-delete-" + bucket
	if e.RequestType != cfn.RequestDelete {
		return physicalID, nil, nil
	}
	// CloudFormation passes every property as a string.
	bypass, _ := e.ResourceProperties["BypassGovernanceRetention"].(string)
	deleted, rounds, err := c.remove(ctx, bucket, bypass == "true")
	if err != nil {
		return physicalID, nil, err
	}
	c.log.InfoContext(ctx, "bucket emptied and deleted", "bucket", bucket, "deleted", deleted, "rounds", rounds)
	return physicalID, nil, nil
}

// remove empties the bucket and deletes it, emptying again whenever objects
// arrived in between. A bucket that no longer exists counts as removed.
func (c cleaner) remove(ctx context.Context, bucket string, bypassGovernance bool) (deleted, rounds int, err error) {
	for rounds = 1; rounds <= maxRounds; rounds++ {
		n, err := c.empty(ctx, bucket, bypassGovernance)
		deleted += n
		if isCode(err, "NoSuchBucket") {
			return deleted, rounds, nil
		}
		if err != nil {
			return deleted, rounds, err
		}
		_, err = c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
		switch {
		case err == nil, isCode(err, "NoSuchBucket"):
			return deleted, rounds, nil
		case isCode(err, "BucketNotEmpty"):
			c.log.InfoContext(ctx, "objects arrived while emptying; emptying again", "bucket", bucket, "round", rounds)
		default:
			return deleted, rounds, fmt.Errorf("bucketcleaner: delete bucket %s: %w", bucket, err)
		}
	}
	return deleted, maxRounds, fmt.Errorf("bucketcleaner: %s still receives objects after %d rounds of emptying: stop what writes to it", bucket, maxRounds)
}

// isCode reports whether err is an S3 error with the given code.
func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

// empty deletes every version and delete marker, a page (at most 1,000, the
// DeleteObjects limit) at a time, bypassing governance-mode retention if told
// to.
func (c cleaner) empty(ctx context.Context, bucket string, bypassGovernance bool) (int, error) {
	deleted := 0
	pages := s3.NewListObjectVersionsPaginator(c.s3, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return deleted, fmt.Errorf("bucketcleaner: list %s: %w", bucket, err)
		}
		var ids []types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		if len(ids) == 0 {
			continue
		}
		in := &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		}
		// The header is sent only when needed: it needs a permission of its
		// own, which only the locked bucket's cleaner has.
		if bypassGovernance {
			in.BypassGovernanceRetention = aws.Bool(true)
		}
		out, err := c.s3.DeleteObjects(ctx, in)
		if err != nil {
			return deleted, fmt.Errorf("bucketcleaner: delete from %s: %w", bucket, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return deleted, fmt.Errorf("bucketcleaner: %d objects of %s not deleted, first %s: %s",
				len(out.Errors), bucket, aws.ToString(e.Key), aws.ToString(e.Message))
		}
		deleted += len(ids)
	}
	return deleted, nil
}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("bucketcleaner cannot start", "error", err)
		os.Exit(1)
	}
	c := cleaner{s3: s3.NewFromConfig(awsCfg), log: logger}
	lambda.Start(cfn.LambdaWrap(c.handle))
}
