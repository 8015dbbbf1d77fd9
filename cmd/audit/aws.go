package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/fintech/payments-platform/audit"
)

// anchorPrefix holds the anchors in the Object Lock bucket.
const anchorPrefix = "anchors/"

// s3API is the part of S3 the anchor store uses.
type s3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// s3Anchors keeps anchors in the environment's Object Lock bucket: the
// bucket's default retention locks each object version when it is
// written, and a write never replaces an existing object (If-None-Match).
type s3Anchors struct {
	client s3API
	bucket string
}

func newS3Anchors(cfg aws.Config, bucket string) s3Anchors {
	return s3Anchors{client: s3.NewFromConfig(cfg), bucket: bucket}
}

func (s s3Anchors) Put(ctx context.Context, a audit.Anchor) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: aws.String(anchorPrefix + a.Name()), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"), IfNoneMatch: aws.String("*"),
	})
	if err != nil {
		return fmt.Errorf("audit: store anchor %s: %w", a.Name(), err)
	}
	return nil
}

func (s s3Anchors) List(ctx context.Context) ([]audit.Anchor, error) {
	var keys []string
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(anchorPrefix)}
	for {
		out, err := s.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("audit: list anchors: %w", err)
		}
		for _, o := range out.Contents {
			if strings.HasSuffix(aws.ToString(o.Key), ".json") {
				keys = append(keys, aws.ToString(o.Key))
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	slices.Sort(keys) // names are the zero-padded last event id
	anchors := make([]audit.Anchor, 0, len(keys))
	for _, key := range keys {
		out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(key)})
		if err != nil {
			return nil, fmt.Errorf("audit: read anchor %s: %w", key, err)
		}
		body, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			return nil, err
		}
		var a audit.Anchor
		if err := json.Unmarshal(body, &a); err != nil {
			return nil, fmt.Errorf("audit: anchor %s: %w", key, err)
		}
		anchors = append(anchors, a)
	}
	return anchors, nil
}

// kmsAPI is the part of KMS the signer uses.
type kmsAPI interface {
	Sign(context.Context, *kms.SignInput, ...func(*kms.Options)) (*kms.SignOutput, error)
	Verify(context.Context, *kms.VerifyInput, ...func(*kms.Options)) (*kms.VerifyOutput, error)
}

// kmsSigner signs with the environment's asymmetric KMS key (ECC NIST
// P-256): only the audit function may sign, and the key's public half
// verifies anywhere (kms get-public-key).
type kmsSigner struct {
	client kmsAPI
	keyArn string
}

func newKMSSigner(cfg aws.Config, keyArn string) kmsSigner {
	return kmsSigner{client: kms.NewFromConfig(cfg), keyArn: keyArn}
}

func (k kmsSigner) Sign(ctx context.Context, digest []byte) ([]byte, string, error) {
	out, err := k.client.Sign(ctx, &kms.SignInput{
		KeyId: &k.keyArn, Message: digest, MessageType: kmstypes.MessageTypeDigest, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, "", err
	}
	return out.Signature, aws.ToString(out.KeyId), nil
}

func (k kmsSigner) Verify(ctx context.Context, digest, signature []byte, keyID string) error {
	out, err := k.client.Verify(ctx, &kms.VerifyInput{
		KeyId: &keyID, Message: digest, MessageType: kmstypes.MessageTypeDigest, Signature: signature, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256,
	})
	var invalid *kmstypes.KMSInvalidSignatureException
	switch {
	case errors.As(err, &invalid):
		return errors.New("invalid signature")
	case err != nil:
		return err
	case !out.SignatureValid:
		return errors.New("invalid signature")
	}
	return nil
}
