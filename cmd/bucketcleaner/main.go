// Command bucketcleaner is a CloudFormation custom resource that empties a
// versioned bucket (every object version and delete marker) when the resource
// is deleted, so that a non-production stack can delete its buckets. It does
// nothing on create and update. It exists instead of CDK's autoDeleteObjects,
// whose bucket policy grants wildcard actions (s3:DeleteObject*, s3:List*).
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
)

// objectAPI is the part of the S3 client the cleaner uses.
type objectAPI interface {
	ListObjectVersions(context.Context, *s3.ListObjectVersionsInput, ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

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
	deleted, err := c.empty(ctx, bucket)
	if err != nil {
		return physicalID, nil, err
	}
	c.log.InfoContext(ctx, "bucket emptied", "bucket", bucket, "deleted", deleted)
	return physicalID, nil, nil
}

// empty deletes every version and delete marker, a page (at most 1,000, the
// DeleteObjects limit) at a time.
func (c cleaner) empty(ctx context.Context, bucket string) (int, error) {
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
		out, err := c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
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
