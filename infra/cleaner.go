package infra

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// BucketCleanerProps configures BucketCleaner.
type BucketCleanerProps struct {
	// Name distinguishes the cleaner of each stack (e.g. "data"): its role
	// name is account-wide, its function and log group region-wide.
	Name       string
	Config     environment.Config
	SourceRoot string
	LogsKey    awskms.IKey
	// Network places the function in the private subnets; nil in a region
	// without a VPC (the replica).
	Network *Network
	// Buckets are emptied when the stack is deleted.
	Buckets []CleanedBucket
}

// CleanedBucket is a bucket and its literal name (the policy names exactly
// the buckets' objects, which a token ARN would hide from the reviewer and
// from cdk-nag).
type CleanedBucket struct {
	Name   string
	Bucket awss3.IBucket
	// GovernanceLocked is set for an Object Lock bucket in governance mode:
	// the cleaner may bypass its retention (s3:BypassGovernanceRetention,
	// for this bucket's objects only) and does so when emptying it.
	GovernanceLocked bool
}

// BucketCleaner empties and deletes versioned buckets when a non-production
// stack is destroyed (cmd/bucketcleaner), so that nothing is retained. It
// deletes each bucket itself, emptying it again until the deletion succeeds:
// log buckets keep receiving S3 server access logs and ALB logs for hours
// after their sources are gone ("best effort", S3 User Guide), so a bucket
// emptied once may no longer be empty when CloudFormation deletes it. Once
// the bucket is gone, late deliveries fail and CloudFormation's own delete
// finds nothing to do. It replaces CDK's autoDeleteObjects, whose bucket
// policy grants wildcard actions.
type BucketCleaner struct {
	constructs.Construct
	Function *GoFunction
}

// NewBucketCleaner creates one function per stack and one custom resource per
// bucket. Each resource depends on its bucket, so CloudFormation deletes it
// (emptying and deleting the bucket) before the bucket.
func NewBucketCleaner(scope constructs.Construct, id string, props *BucketCleanerProps) *BucketCleaner {
	this := constructs.NewConstruct(scope, &id)
	cfg := props.Config
	var bucketArns, objectArns, lockedObjectArns []string
	for _, b := range props.Buckets {
		bucketArns = append(bucketArns, "arn:aws:s3:::"+b.Name)
		objectArns = append(objectArns, "arn:aws:s3:::"+b.Name+"/*")
		if b.GovernanceLocked {
			lockedObjectArns = append(lockedObjectArns, "arn:aws:s3:::"+b.Name+"/*")
		}
	}
	fnProps := &GoFunctionProps{
		Config:           cfg,
		SourceRoot:       props.SourceRoot,
		Package:          "./cmd/bucketcleaner",
		Name:             "bucketcleaner-" + props.Name,
		Description:      "Empties this environment's buckets when a non-production stack is deleted",
		Timeout:          awscdk.Duration_Minutes(jsii.Number(15)),
		ConcurrencyBound: "CloudFormation invokes it once per bucket, only when a non-production stack is deleted.",
		LogsKey:          props.LogsKey,
		Statements: []awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ListVersionsAndDeleteTheBucket"),
				Actions:   jsii.Strings("s3:ListBucketVersions", "s3:DeleteBucket"),
				Resources: jsii.Strings(bucketArns...),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("DeleteVersions"),
				Actions:   jsii.Strings("s3:DeleteObject", "s3:DeleteObjectVersion"),
				Resources: jsii.Strings(objectArns...),
			}),
		},
	}
	if len(lockedObjectArns) > 0 {
		fnProps.Statements = append(fnProps.Statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("BypassGovernanceRetention"),
			Actions:   jsii.Strings("s3:BypassGovernanceRetention"),
			Resources: jsii.Strings(lockedObjectArns...),
		}))
	}
	if props.Network != nil {
		fnProps.Vpc, fnProps.Subnets = props.Network.Vpc, props.Network.PrivateSubnets()
	}
	c := &BucketCleaner{Construct: this, Function: NewGoFunction(this, "Function", fnProps)}
	if props.Network != nil {
		props.Network.AllowHTTPSToS3(c.Function.SecurityGroup)
	}
	for i, b := range props.Buckets {
		cr := c.Function.CustomResource(this, fmt.Sprintf("Empty%d", i), "Custom::EmptyBucketOnDelete",
			map[string]any{"BucketName": b.Bucket.BucketName(), "BypassGovernanceRetention": strconv.FormatBool(b.GovernanceLocked)})
		// Deleted before the bucket, after its policy: the policy goes
		// while the bucket exists (which also ends log deliveries that it
		// admitted), then the cleaner deletes the bucket, and the bucket's
		// own deletion finds nothing to do.
		cr.Node().AddDependency(b.Bucket.Node().DefaultChild())
		if policy := b.Bucket.Policy(); policy != nil {
			policy.Node().AddDependency(cr)
		}
	}
	suppressBucketCleanerFindings(c, props.Network == nil, objectArns)
	return c
}

// suppressBucketCleanerFindings holds every accepted cdk-nag finding of the cleaner.
func suppressBucketCleanerFindings(c *BucketCleaner, outsideVpc bool, objectArns []string) {
	appliesTo := make([]string, len(objectArns))
	for i, arn := range objectArns {
		appliesTo[i] = "Resource::" + arn
	}
	suppress(c.Function.Node().FindChild(jsii.String("RolePolicy")), true, finding{
		rule:      "AwsSolutions-IAM5",
		appliesTo: appliesTo,
		reason:    "Emptying a bucket deletes every object version in it: the grant is DeleteObject/DeleteObjectVersion on the objects of exactly these named buckets of this environment.",
	})
	findings := []finding{{
		rule:   "NIST.800.53.R5-LambdaDLQ",
		reason: customResourceDLQReason,
	}}
	if outsideVpc {
		reason := "The replica region has no VPC: it holds only the replica bucket, its keys and its log bucket. The cleaner calls S3 only, " +
			"exists only in non-production environments and runs only when the stack is deleted."
		findings = append(findings, because(reason, "NIST.800.53.R5-LambdaInsideVPC", "PCI.DSS.321-LambdaInsideVPC")...)
	}
	suppress(c.Function.Function, true, findings...)
}
