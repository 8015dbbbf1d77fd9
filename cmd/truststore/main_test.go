package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type fakeS3 struct {
	puts    []string
	version string
}

func (f *fakeS3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return &s3.HeadObjectOutput{VersionId: aws.String("current")}, nil
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, _ := io.ReadAll(in.Body)
	f.puts = append(f.puts, *in.Bucket+"/"+*in.Key+":"+string(b))
	if f.version == "" {
		return &s3.PutObjectOutput{}, nil
	}
	return &s3.PutObjectOutput{VersionId: aws.String(f.version)}, nil
}

func TestHandle(t *testing.T) {
	ca, err := os.ReadFile("../../environment/testdata/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := os.ReadFile("../../infra/testdata/leaf.pem")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	event := func(rt cfn.RequestType, pem string) cfn.Event {
		return cfn.Event{RequestType: rt, ResourceProperties: map[string]any{"Bucket": "trust", "Key": "truststore.pem", "Pem": pem}}
	}

	t.Run("CreateAndUpdateWriteAVersion", func(t *testing.T) {
		f := &fakeS3{version: "v7"}
		for _, rt := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate} {
			id, data, err := writer{s3: f, log: quiet}.handle(context.Background(), event(rt, string(ca)))
			if err != nil || id != "s3://trust/truststore.pem" || data["VersionId"] != "v7" {
				t.Fatalf("%s: %q %v %v", rt, id, data, err)
			}
		}
		if len(f.puts) != 2 || !strings.HasPrefix(f.puts[0], "trust/truststore.pem:-----BEGIN CERTIFICATE-----") {
			t.Errorf("puts %v", f.puts)
		}
	})
	t.Run("AnUnchangedBundleKeepsItsVersion", func(t *testing.T) {
		f := &fakeS3{version: "v8"}
		e := event(cfn.RequestUpdate, string(ca))
		e.OldResourceProperties = map[string]any{"Bucket": "trust", "Key": "truststore.pem", "Pem": string(ca)}
		_, data, err := writer{s3: f, log: quiet}.handle(context.Background(), e)
		if err != nil || data["VersionId"] != "current" || len(f.puts) != 0 {
			t.Fatalf("%v %v, puts %v", data, err, f.puts)
		}
	})
	t.Run("DeleteKeepsTheHistory", func(t *testing.T) {
		f := &fakeS3{version: "v1"}
		if _, _, err := (writer{s3: f, log: quiet}).handle(context.Background(), event(cfn.RequestDelete, "")); err != nil || len(f.puts) != 0 {
			t.Fatalf("%v %v", err, f.puts)
		}
	})
	t.Run("ErrNotACABundle", func(t *testing.T) {
		for _, bad := range []string{"", "not pem", string(leaf), string(ca) + "junk"} {
			if _, _, err := (writer{s3: &fakeS3{version: "v1"}, log: quiet}).handle(context.Background(), event(cfn.RequestCreate, bad)); err == nil {
				t.Errorf("accepted %.30q", bad)
			}
		}
	})
	t.Run("ErrUnversionedBucket", func(t *testing.T) {
		if _, _, err := (writer{s3: &fakeS3{}, log: quiet}).handle(context.Background(), event(cfn.RequestCreate, string(ca))); err == nil {
			t.Fatal("accepted a bucket without versions")
		}
	})
}
