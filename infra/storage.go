package infra

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// privateBucketProps are what every bucket of this platform shares: named
// with the suffix, versioned, all public access blocked, TLS 1.2+ only, ACLs
// disabled, destroyed with the stack outside production. Callers add the
// encryption and the lifecycle.
func privateBucketProps(cfg environment.Config, name string) *awss3.BucketProps {
	return &awss3.BucketProps{
		BucketName:        jsii.String(name),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(true),
		RemovalPolicy:     removalPolicy(cfg),
	}
}

// elbLogDeliveryAccounts are the Elastic Load Balancing accounts that write
// access logs in the regions this platform runs its ALB in (AWS ELB User
// Guide, "Enable access logs for your Application Load Balancer").
var elbLogDeliveryAccounts = map[string]string{environment.PrimaryRegion: "114774131450"}

// newLogBucket creates the bucket that receives S3 server access logs (and
// later ALB access logs). Those services can deliver only to SSE-S3 buckets,
// so this is the one bucket not encrypted with our keys: the documented
// exception. Otherwise it is locked down like every bucket, and keeps logs
// seven years.
func newLogBucket(scope constructs.Construct, cfg environment.Config, region string) awss3.Bucket {
	props := privateBucketProps(cfg, cfg.BucketName("logs", region))
	props.Encryption = awss3.BucketEncryption_S3_MANAGED
	props.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id:                                  jsii.String("archive-then-expire-after-seven-years"),
		Transitions:                         &[]*awss3.Transition{{StorageClass: awss3.StorageClass_GLACIER_INSTANT_RETRIEVAL(), TransitionAfter: awscdk.Duration_Days(jsii.Number(90))}},
		Expiration:                          awscdk.Duration_Days(jsii.Number(2557)),
		NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
	}}
	b := awss3.NewBucket(scope, jsii.String("LogBucket"), props)
	// ALB access logs: ap-southeast-1 predates the log-delivery service
	// principal, so AWS documents its Elastic Load Balancing account as the
	// writer. Only PutObject, only under the ALB prefix of this account.
	if elbAccount, ok := elbLogDeliveryAccounts[region]; ok {
		b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AlbAccessLogDelivery"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(jsii.String(elbAccount))},
			Actions:    jsii.Strings("s3:PutObject"),
			Resources:  jsii.Strings(fmt.Sprintf("arn:aws:s3:::%s/%s/AWSLogs/%s/*", cfg.BucketName("logs", region), albAccessLogPrefix, cfg.Account)),
		}))
	}
	suppressLogBucketFindings(b)
	return b
}

// suppressLogBucketFindings holds what a bucket receiving S3 server access
// logs (and ALB access logs) is accepted for.
func suppressLogBucketFindings(b awss3.Bucket) {
	suppress(b, true, slices.Concat(
		because("This is a log bucket. Logging a log bucket's access into itself would loop; writes come only from the S3 logging service principal, scoped to this account by the bucket policy.",
			"AwsSolutions-S1", "PCI.DSS.321-S3BucketLoggingEnabled", "NIST.800.53.R5-S3BucketLoggingEnabled"),
		because("This is a log bucket. S3 server access logs and ELB access logs can only be delivered to SSE-S3 (AES-256) buckets (AWS documentation), so SSE-KMS is impossible here; it is encrypted at rest with SSE-S3, TLS-only and private.",
			"PCI.DSS.321-S3DefaultEncryptionKMS", "NIST.800.53.R5-S3DefaultEncryptionKMS"),
		because("This is a log bucket. Access logs are regional operational records kept seven years with versioning; the objects they describe are replicated or locked, the logs need not be.",
			"PCI.DSS.321-S3BucketReplicationEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled"),
	)...)
}

// documentBucketProps are the settings the document bucket and its replica
// share: the private baseline, SSE-KMS with Bucket Keys, access logged.
func documentBucketProps(cfg environment.Config, region string, key awskms.IKey, logs awss3.IBucket) *awss3.BucketProps {
	props := privateBucketProps(cfg, cfg.BucketName("docs", region))
	props.Encryption = awss3.BucketEncryption_KMS
	props.EncryptionKey = key
	props.BucketKeyEnabled = jsii.Bool(true)
	props.ServerAccessLogsBucket = logs
	props.ServerAccessLogsPrefix = jsii.String("s3/docs/")
	props.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id:          jsii.String("tier-and-expire-versions"),
		Transitions: &[]*awss3.Transition{{StorageClass: awss3.StorageClass_INFREQUENT_ACCESS(), TransitionAfter: awscdk.Duration_Days(jsii.Number(90))}},
		NoncurrentVersionTransitions: &[]*awss3.NoncurrentVersionTransition{{
			StorageClass: awss3.StorageClass_GLACIER_INSTANT_RETRIEVAL(), TransitionAfter: awscdk.Duration_Days(jsii.Number(30)),
		}},
		NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(cfg.DocumentVersionRetentionDays)),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		ExpiredObjectDeleteMarker:           jsii.Bool(true),
	}}
	return props
}

// StorageProps configures Storage.
type StorageProps struct {
	Config environment.Config
	Keys   *Keys
	// ReplicaKeyArn is the replica region's documents key (a cross-region
	// reference: a key object would make the stacks depend on each other).
	ReplicaKeyArn *string
}

// Storage is the document bucket, replicated to ReplicaRegion, the log
// bucket and the audit anchor bucket.
type Storage struct {
	constructs.Construct
	Documents       awss3.Bucket
	LogBucket       awss3.Bucket
	ReplicationRole *ServiceRole
	// Anchors holds the signed anchors of payments' histories under S3
	// Object Lock (newAnchorBucket).
	Anchors awss3.Bucket
}

// NewStorage creates the buckets and the replication role.
func NewStorage(scope constructs.Construct, id string, props *StorageProps) *Storage {
	this := constructs.NewConstruct(scope, &id)
	cfg := props.Config
	s := &Storage{Construct: this}
	s.LogBucket = newLogBucket(this, cfg, cfg.Region)
	// The truststore bucket (in the app stack) logs its access here too;
	// CDK writes this statement for buckets of the same stack only.
	truststore := "arn:aws:s3:::" + cfg.BucketName("mtls", cfg.Region)
	s.LogBucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("TruststoreAccessLogs"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logging.s3.amazonaws.com"), nil)},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  jsii.Strings("arn:aws:s3:::" + cfg.BucketName("logs", cfg.Region) + "/" + truststoreAccessLogPrefix + "*"),
		Conditions: &map[string]any{
			"ArnLike":      map[string]any{"aws:SourceArn": truststore},
			"StringEquals": map[string]any{"aws:SourceAccount": cfg.Account},
		},
	}))

	replicaKey := awskms.Key_FromKeyArn(this, jsii.String("ReplicaKey"), props.ReplicaKeyArn)
	sourceArn := "arn:aws:s3:::" + cfg.BucketName("docs", cfg.Region)
	replicaArn := "arn:aws:s3:::" + cfg.BucketName("docs", cfg.ReplicaRegion)
	replica := awss3.Bucket_FromBucketAttributes(this, jsii.String("ReplicaBucket"), &awss3.BucketAttributes{
		BucketArn: jsii.String(replicaArn),
		Region:    jsii.String(cfg.ReplicaRegion),
		Account:   jsii.String(cfg.Account),
	})

	// Exactly what S3 replication of SSE-KMS objects needs (S3 User Guide,
	// "Replicating encrypted objects"), for these two buckets and keys only.
	s.ReplicationRole = NewServiceRole(this, "ReplicationRole", &ServiceRoleProps{
		Name:    cfg.Name("docs-replication"),
		Service: "s3.amazonaws.com",
		Account: cfg.Account,
		Statements: []awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ReadReplicationConfiguration"),
				Actions:   jsii.Strings("s3:GetReplicationConfiguration", "s3:ListBucket"),
				Resources: jsii.Strings(sourceArn),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ReadSourceVersions"),
				Actions:   jsii.Strings("s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"),
				Resources: jsii.Strings(sourceArn + "/*"),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("WriteReplicas"),
				Actions:   jsii.Strings("s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"),
				Resources: jsii.Strings(replicaArn + "/*"),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("DecryptSource"),
				Actions:   jsii.Strings("kms:Decrypt"),
				Resources: jsii.Strings(*props.Keys.Documents.KeyArn()),
				Conditions: &map[string]any{
					"StringEquals": map[string]any{"kms:ViaService": "s3." + cfg.Region + ".amazonaws.com"},
					"StringLike":   map[string]any{"kms:EncryptionContext:aws:s3:arn": []string{sourceArn, sourceArn + "/*"}},
				},
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("EncryptReplicas"),
				Actions:   jsii.Strings("kms:Encrypt", "kms:GenerateDataKey"),
				Resources: jsii.Strings(*props.ReplicaKeyArn),
				Conditions: &map[string]any{
					"StringEquals": map[string]any{"kms:ViaService": "s3." + cfg.ReplicaRegion + ".amazonaws.com"},
					"StringLike":   map[string]any{"kms:EncryptionContext:aws:s3:arn": []string{replicaArn, replicaArn + "/*"}},
				},
			}),
		},
	})

	docs := documentBucketProps(cfg, cfg.Region, props.Keys.Documents, s.LogBucket)
	docs.ReplicationRole = s.ReplicationRole.Role
	docs.ReplicationRules = &[]*awss3.ReplicationRule{{
		Id:                      jsii.String("replicate-everything"),
		Destination:             replica,
		KmsKey:                  replicaKey,
		Priority:                jsii.Number(1),
		SseKmsEncryptedObjects:  jsii.Bool(true),
		DeleteMarkerReplication: jsii.Bool(true),
	}}
	s.Documents = awss3.NewBucket(this, jsii.String("Documents"), docs)
	s.ReplicationRole.UsedBy(s.Documents)
	s.Anchors = newAnchorBucket(this, cfg, props.Keys.Logs, s.LogBucket)
	suppress(this.Node().FindChild(jsii.String("ReplicationRolePolicy")), true, finding{
		rule:      "AwsSolutions-IAM5",
		appliesTo: []string{"Resource::" + sourceArn + "/*", "Resource::" + replicaArn + "/*"},
		reason:    "Replication reads every object version of the document bucket and writes every replica: the objects of exactly these two buckets, nothing else.",
	})
	return s
}
