package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/environment"
)

// ReplicaProps configures Replica.
type ReplicaProps struct {
	Config environment.Config
}

// Replica is the destination of document replication in ReplicaRegion: a
// bucket with the same protections as the source, its own key and its own
// access-log bucket.
type Replica struct {
	constructs.Construct
	Key awskms.Key
	// LogsKey encrypts the replica region's log groups.
	LogsKey   awskms.Key
	Bucket    awss3.Bucket
	LogBucket awss3.Bucket
}

// NewReplica creates the replica side; its stack is deployed before the
// data stack, which replicates into it.
func NewReplica(scope constructs.Construct, id string, props *ReplicaProps) *Replica {
	this := constructs.NewConstruct(scope, &id)
	cfg := props.Config
	r := &Replica{Construct: this}
	r.Key = newDomainKey(this, cfg, "documents-replica", "replicas of payment documents in "+cfg.ReplicaRegion)
	r.LogsKey = newDomainKey(this, cfg, "logs-replica", "CloudWatch Logs groups in "+cfg.ReplicaRegion, logsServiceStatement(cfg, cfg.ReplicaRegion))
	r.LogBucket = newLogBucket(this, cfg, cfg.ReplicaRegion)
	r.Bucket = awss3.NewBucket(this, jsii.String("Documents"), documentBucketProps(cfg, cfg.ReplicaRegion, r.Key, r.LogBucket))
	suppress(r.Bucket, true, because("This bucket is the cross-region replica of the document bucket in "+environment.PrimaryRegion+"; replicating the replica again would add a third copy with no recovery benefit.",
		"PCI.DSS.321-S3BucketReplicationEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled")...)
	return r
}
