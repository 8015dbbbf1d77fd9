// Command truststore is a CloudFormation custom resource that writes the
// mutual-TLS truststore (a PEM bundle of client CA certificates, public data
// carried in the resource's properties) to the versioned truststore bucket
// and returns the object's version, which the API Gateway custom domain
// pins. It replaces CDK's BucketDeployment, whose role has wildcard actions
// and which needs a 22 MB AWS CLI layer for one small file.
package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type objectAPI interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

type writer struct {
	s3  objectAPI
	log *slog.Logger
}

// handle writes on Create and on an Update that changes the bundle (a new
// bundle is a new version), answers an Update that changes nothing of it
// (another property of the resource changed) with the current version, so
// the custom domain keeps its truststore, and keeps the object on Delete:
// versions are history, the bucket goes with the stack.
func (w writer) handle(ctx context.Context, e cfn.Event) (string, map[string]any, error) {
	bucket, _ := e.ResourceProperties["Bucket"].(string)
	key, _ := e.ResourceProperties["Key"].(string)
	bundle, _ := e.ResourceProperties["Pem"].(string)
	if bucket == "" || key == "" {
		return "", nil, errors.New("truststore: Bucket and Key are required properties")
	}
	id := "s3://" + bucket + "/" + key
	if e.RequestType == cfn.RequestDelete {
		return id, nil, nil
	}
	if err := checkBundle(bundle); err != nil {
		return id, nil, err
	}
	if e.RequestType == cfn.RequestUpdate && e.OldResourceProperties["Bucket"] == bucket && e.OldResourceProperties["Key"] == key && e.OldResourceProperties["Pem"] == bundle {
		head, err := w.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			return id, nil, fmt.Errorf("truststore: read the version of %s: %w", id, err)
		}
		if version := aws.ToString(head.VersionId); version != "" {
			return id, map[string]any{"VersionId": version}, nil
		}
	}
	out, err := w.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: strings.NewReader(bundle), ContentType: aws.String("application/x-pem-file"),
	})
	if err != nil {
		return id, nil, fmt.Errorf("truststore: write %s: %w", id, err)
	}
	version := aws.ToString(out.VersionId)
	if version == "" {
		return id, nil, fmt.Errorf("truststore: %s has no version: the bucket must be versioned", bucket)
	}
	w.log.InfoContext(ctx, "truststore written", "object", id, "version", version)
	return id, map[string]any{"VersionId": version}, nil
}

// checkBundle accepts CA certificates only: a truststore with anything else
// makes API Gateway fail the domain update or trust the wrong thing.
func checkBundle(bundle string) error {
	rest, n := []byte(bundle), 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if block.Type != "CERTIFICATE" || err != nil || !cert.IsCA {
			return errors.New("truststore: the bundle must hold CA certificates only")
		}
		n++
	}
	if n == 0 || strings.TrimSpace(string(rest)) != "" {
		return errors.New("truststore: the bundle is not a PEM list of certificates")
	}
	return nil
}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("truststore cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(cfn.LambdaWrap(writer{s3: s3.NewFromConfig(awsCfg), log: logger}.handle))
}
