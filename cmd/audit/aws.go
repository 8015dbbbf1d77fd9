package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/fintech/payments-platform/audit"
)

// s3API is the part of S3 the anchor store uses.
type s3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// s3Anchors keeps anchors in the environment's Object Lock bucket: the
// bucket's default retention locks each object version when it is
// written, and a write never replaces an existing object (If-None-Match).
//
// S3 lists keys in ascending order only, so after each anchor the store
// also writes a hint naming it (audit.HintKey): finding the last anchor lists
// only what follows the hint, which is nothing unless a hint was lost. The
// hint is a pointer, not evidence: a stale or missing one costs a longer
// listing, never a wrong answer.
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
		Bucket: &s.bucket, Key: aws.String(audit.ObjectPrefix + a.Name()), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"), IfNoneMatch: aws.String("*"),
	})
	if err != nil {
		return fmt.Errorf("audit: store anchor %s: %w", a.Name(), err)
	}
	// The hint replaces the previous one (its versions stay, locked: a
	// few hundred bytes an hour).
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: aws.String(audit.HintKey), Body: strings.NewReader(audit.ObjectPrefix + a.Name()), ContentType: aws.String("text/plain"),
	})
	if err != nil {
		return fmt.Errorf("audit: store %s: %w", audit.HintKey, err)
	}
	return nil
}

func (s s3Anchors) Last(ctx context.Context) (*audit.Anchor, error) {
	var after string
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(audit.HintKey)})
	var missing *s3types.NoSuchKey
	switch {
	case errors.As(err, &missing):
	case err != nil:
		return nil, fmt.Errorf("audit: read %s: %w", audit.HintKey, err)
	default:
		hint, err := io.ReadAll(io.LimitReader(out.Body, 1024))
		out.Body.Close()
		if err != nil {
			return nil, err
		}
		after = string(hint)
	}
	keys, err := s.keys(ctx, after)
	if err != nil {
		return nil, err
	}
	switch {
	case len(keys) > 0:
		after = keys[len(keys)-1]
	case after == "":
		return nil, nil
	}
	a, err := s.get(ctx, after)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// keys lists the anchors' keys after the key after ("" for all), in order
// (names are the zero-padded first event id of their range).
func (s s3Anchors) keys(ctx context.Context, after string) ([]string, error) {
	var keys []string
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(audit.ObjectPrefix)}
	if after != "" {
		in.StartAfter = aws.String(after)
	}
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
	slices.Sort(keys)
	return keys, nil
}

func (s s3Anchors) get(ctx context.Context, key string) (audit.Anchor, error) {
	var a audit.Anchor
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(key)})
	if err != nil {
		return a, fmt.Errorf("audit: read anchor %s: %w", key, err)
	}
	defer out.Body.Close()
	if err := json.NewDecoder(out.Body).Decode(&a); err != nil {
		return a, fmt.Errorf("audit: anchor %s: %w", key, err)
	}
	return a, nil
}

func (s s3Anchors) List(ctx context.Context) ([]audit.Anchor, error) {
	keys, err := s.keys(ctx, "")
	if err != nil {
		return nil, err
	}
	anchors := make([]audit.Anchor, 0, len(keys))
	for _, key := range keys {
		a, err := s.get(ctx, key)
		if err != nil {
			return nil, err
		}
		anchors = append(anchors, a)
	}
	return anchors, nil
}

// kmsAPI is the part of KMS the signer uses.
type kmsAPI interface {
	Sign(context.Context, *kms.SignInput, ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(context.Context, *kms.GetPublicKeyInput, ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// kmsSigner signs with the environment's asymmetric KMS key (ECC NIST
// P-256): only the audit function may sign. It verifies with the key's
// public half, fetched once per key: a verification checks every anchor
// (thousands a year), which would otherwise be as many KMS requests, and
// anyone can check an anchor the same way outside AWS
// (aws kms get-public-key).
type kmsSigner struct {
	client kmsAPI
	keyArn string
	mu     sync.Mutex
	public map[string]*ecdsa.PublicKey // by key ARN
}

func newKMSSigner(cfg aws.Config, keyArn string) *kmsSigner {
	return &kmsSigner{client: kms.NewFromConfig(cfg), keyArn: keyArn}
}

func (k *kmsSigner) Sign(ctx context.Context, digest []byte) ([]byte, string, error) {
	out, err := k.client.Sign(ctx, &kms.SignInput{
		KeyId: &k.keyArn, Message: digest, MessageType: kmstypes.MessageTypeDigest, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, "", err
	}
	return out.Signature, aws.ToString(out.KeyId), nil
}

func (k *kmsSigner) Verify(ctx context.Context, digest, signature []byte, keyID string) error {
	public, err := k.publicKey(ctx, keyID)
	if err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(public, digest, signature) {
		return errors.New("invalid signature")
	}
	return nil
}

// publicKey returns the public half of a signing key, once per key.
func (k *kmsSigner) publicKey(ctx context.Context, keyID string) (*ecdsa.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if public, ok := k.public[keyID]; ok {
		return public, nil
	}
	out, err := k.client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: &keyID})
	if err != nil {
		return nil, fmt.Errorf("the public key of %s: %w", keyID, err)
	}
	if out.KeyUsage != kmstypes.KeyUsageTypeSignVerify || !slices.Contains(out.SigningAlgorithms, kmstypes.SigningAlgorithmSpecEcdsaSha256) {
		return nil, fmt.Errorf("%s is not an ECDSA P-256 signing key", keyID)
	}
	parsed, err := x509.ParsePKIXPublicKey(out.PublicKey)
	public, ok := parsed.(*ecdsa.PublicKey)
	if err != nil || !ok {
		return nil, fmt.Errorf("the public key of %s is not an ECDSA key: %v", keyID, err)
	}
	if k.public == nil {
		k.public = map[string]*ecdsa.PublicKey{}
	}
	k.public[keyID] = public
	return public, nil
}
