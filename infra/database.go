package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"maps"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/postgres/migrations"
)

// databaseEngine is Aurora PostgreSQL 17: the newest major version whose
// Aurora releases have had a full year of minor versions, and that both the
// burstable (t4g) and memory-optimised (r7g, r8g) Graviton classes run.
func databaseEngine() awsrds.IClusterEngine {
	return awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{
		Version: awsrds.AuroraPostgresEngineVersion_VER_17_9(),
	})
}

// clusterInstanceIDs are the construct ids (and identifier suffixes) of the
// writer and the two readers.
var clusterInstanceIDs = []string{"writer", "reader1", "reader2"}

// DatabaseProps configures Database.
type DatabaseProps struct {
	Config  environment.Config
	Network *Network
	Keys    *Keys
	// CardDataFindings receives what the data-protection policies of the
	// logs carrying client input find (NewCardDataFindings).
	CardDataFindings awslogs.ILogGroup
	// SourceRoot is the Go module root, for building dbinit.
	SourceRoot string
}

// Database is the Aurora PostgreSQL cluster (one writer, two readers), its
// rotated master credential and the bootstrap that creates the schema and
// the IAM-authenticated application role.
type Database struct {
	constructs.Construct
	Cluster awsrds.DatabaseCluster
	// LogGroup receives the exported PostgreSQL log (audit: connections,
	// DDL, role changes).
	LogGroup awslogs.LogGroup
}

// NewDatabase creates the cluster in the isolated database subnets.
func NewDatabase(scope constructs.Construct, id string, props *DatabaseProps) *Database {
	this := constructs.NewConstruct(scope, &id)
	cfg, network, keys := props.Config, props.Network, props.Keys
	d := &Database{Construct: this}
	clusterID := cfg.Name("db")

	// RDS exports into a group it names itself; creating it first lets us
	// encrypt it and keep it 2557 days.
	d.LogGroup = newCardDataLogGroup(this, "PostgresLog", cfg, jsii.String("/aws/rds/cluster/"+clusterID+"/postgresql"), keys.Logs, props.CardDataFindings)

	monitoringRole := NewServiceRole(this, "MonitoringRole", &ServiceRoleProps{
		Name:    cfg.Name("db-monitoring"),
		Service: "monitoring.rds.amazonaws.com",
		Account: cfg.Account,
		// AmazonRDSEnhancedMonitoringRole, written out: RDS writes OS metrics
		// into its account-wide RDSOSMetrics group.
		Statements: []awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("logs:CreateLogGroup", "logs:PutRetentionPolicy"),
				Resources: jsii.Strings("arn:aws:logs:" + cfg.Region + ":" + cfg.Account + ":log-group:RDSOSMetrics"),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"),
				Resources: jsii.Strings("arn:aws:logs:" + cfg.Region + ":" + cfg.Account + ":log-group:RDSOSMetrics:log-stream:*"),
			}),
		},
	})

	instance := func(id string) awsrds.IClusterInstance {
		return awsrds.ClusterInstance_Provisioned(jsii.String(id), &awsrds.ProvisionedClusterInstanceProps{
			InstanceType:                    awsec2.NewInstanceType(jsii.String(cfg.DBInstanceClass)),
			InstanceIdentifier:              jsii.String(clusterID + "-" + id),
			EnablePerformanceInsights:       jsii.Bool(true),
			PerformanceInsightEncryptionKey: keys.Database,
			CaCertificate:                   awsrds.CaCertificate_RDS_CA_RSA2048_G1(),
			AutoMinorVersionUpgrade:         jsii.Bool(true),
			PubliclyAccessible:              jsii.Bool(false),
		})
	}
	backupDays := float64(cfg.Posture().BackupRetentionDays)
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.Posture().RetainData {
		removal = awscdk.RemovalPolicy_SNAPSHOT
	}

	// Aurora answers connections and starts none: no egress at all.
	clusterSG := awsec2.NewSecurityGroup(this, jsii.String("ClusterSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:               network.Vpc,
		SecurityGroupName: jsii.String(cfg.Name("db")),
		Description:       jsii.String("Aurora PostgreSQL: 5432 from named workload security groups only; no egress"),
		AllowAllOutbound:  jsii.Bool(false),
	})
	d.Cluster = awsrds.NewDatabaseCluster(this, jsii.String("Cluster"), &awsrds.DatabaseClusterProps{
		ClusterIdentifier:   jsii.String(clusterID),
		Engine:              databaseEngine(),
		Writer:              instance("writer"),
		Readers:             &[]awsrds.IClusterInstance{instance("reader1"), instance("reader2")},
		DefaultDatabaseName: jsii.String(database.Name),
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String("payments_admin"), &awsrds.CredentialsBaseOptions{
			SecretName:        jsii.String("payments/" + cfg.EnvironmentSuffix + "/db-master"),
			EncryptionKey:     keys.Secrets,
			ExcludeCharacters: jsii.String(" %+~`#$&*()|[]{}:;<>?!'/@\"\\"),
		}),
		IamAuthentication:    jsii.Bool(true),
		StorageEncrypted:     jsii.Bool(true),
		StorageEncryptionKey: keys.Database,
		Vpc:                  network.Vpc,
		VpcSubnets:           network.DatabaseSubnets(),
		SecurityGroups:       &[]awsec2.ISecurityGroup{clusterSG},
		Parameters: &map[string]*string{
			"rds.force_ssl":              jsii.String("1"),
			"ssl_min_protocol_version":   jsii.String("TLSv1.2"),
			"log_connections":            jsii.String("1"),
			"log_disconnections":         jsii.String("1"),
			"log_statement":              jsii.String("ddl"),
			"log_min_duration_statement": jsii.String("1000"),
			// A slow statement is logged without its bind parameters
			// (PostgreSQL logs them in full by default): they carry what
			// clients send.
			"log_parameter_max_length": jsii.String("0"),
			"shared_preload_libraries": jsii.String("pg_stat_statements,pgaudit"),
			"pgaudit.log":              jsii.String("ddl,role"),
			// Object auditing: the writes the migrations grant to
			// rds_pgaudit (every write to the payment, ledger and merchant
			// tables; changes to the history and idempotency keys), by
			// anyone.
			"pgaudit.role": jsii.String("rds_pgaudit"),
			// Statement parameters carry what clients send (tokens,
			// references): never in the audit log.
			"pgaudit.log_parameter": jsii.String("0"),
			// A statement that writes several audited tables (the CTE that
			// writes a payment, its history and its outbox message) carries
			// its text in its first entry only, not in one per table.
			"pgaudit.log_statement_once": jsii.String("1"),
		},
		CloudwatchLogsExports:      jsii.Strings("postgresql"),
		Backup:                     &awsrds.BackupProps{Retention: awscdk.Duration_Days(&backupDays), PreferredWindow: jsii.String("17:00-18:00")},
		PreferredMaintenanceWindow: jsii.String("sun:18:30-sun:19:30"),
		MonitoringInterval:         awscdk.Duration_Seconds(jsii.Number(60)),
		MonitoringRole:             monitoringRole.Role,
		DeletionProtection:         jsii.Bool(cfg.Posture().Protected),
		CopyTagsToSnapshot:         jsii.Bool(true),
		RemovalPolicy:              removal,
	})
	d.Cluster.Node().AddDependency(d.LogGroup)
	// RDS checks the monitoring role when it creates each instance.
	monitoringRole.UsedBy(d.Cluster)

	// Rotated every 30 days by the single-user rotation Lambda (a Serverless
	// Application Repository app) in the private subnets, which reaches
	// Secrets Manager through the interface endpoint and the cluster through
	// its security group (CDK opens 5432 both ways): no internet path is
	// involved.
	rotationSG := awsec2.NewSecurityGroup(this, jsii.String("RotationSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:               network.Vpc,
		SecurityGroupName: jsii.String(cfg.Name("db-rotation")),
		Description:       jsii.String("Master-secret rotation function: HTTPS to the VPC endpoints, PostgreSQL to the cluster"),
		AllowAllOutbound:  jsii.Bool(false),
	})
	rotationSG.AddEgressRule(awsec2.Peer_Ipv4(jsii.String(cfg.VpcCidr.String())), awsec2.Port_Tcp(jsii.Number(443)),
		jsii.String("HTTPS to the Secrets Manager endpoint"), nil)
	rotation := d.Cluster.AddRotationSingleUser(&awsrds.RotationSingleUserOptions{
		AutomaticallyAfter: awscdk.Duration_Days(jsii.Number(30)),
		Endpoint:           network.Endpoints["SecretsManager"],
		VpcSubnets:         network.PrivateSubnets(),
		SecurityGroup:      rotationSG,
		ExcludeCharacters:  jsii.String(" %+~`#$&*()|[]{}:;<>?!'/@\"\\"),
	})
	// The application's function writes to /aws/lambda/<functionName>, which
	// Lambda would create on the first rotation: unencrypted, kept forever,
	// and left behind by `make destroy`. Named here, its group is created
	// first, like every other audit log group.
	rotationFunction := cfg.RotationFunctionName()
	rotation.Node().DefaultChild().(awssam.CfnApplication).AddPropertyOverride(jsii.String("Parameters.functionName"), rotationFunction)
	rotation.Node().AddDependency(newAuditLogGroup(this, "RotationLogs", cfg, jsii.String("/aws/lambda/"+rotationFunction), keys.Logs))

	// The schedule rotates once as soon as it exists, which needs the
	// writer up, not only the cluster resource.
	schedule := d.Cluster.Secret().Node().FindChild(jsii.String("RotationSchedule"))
	for _, instance := range clusterInstanceIDs {
		schedule.Node().AddDependency(d.Cluster.Node().FindChild(jsii.String(instance)))
	}

	// The App stack depends on this one, so the schema and the roles exist
	// before any workload that connects.
	newDatabaseBootstrap(this, cfg, network, keys, d.Cluster, props.SourceRoot)
	pinPorts(clusterSG, rotationSG)
	suppressDatabaseFindings(d, cfg)
	return d
}

// AllowFrom admits PostgreSQL connections from peer's security group: the
// cluster never admits a CIDR. The ingress rule is created in the peer's
// scope, so a workload in a later stack references the data stack and never
// the other way round, and the port is the literal database.Port (the
// cluster's default port is an endpoint token cdk-nag cannot evaluate).
func (d *Database) AllowFrom(peer awsec2.SecurityGroup, description string) {
	clusterSG := (*d.Cluster.Connections().SecurityGroups())[0]
	awsec2.NewCfnSecurityGroupIngress(peer, jsii.String("ToDatabase"), &awsec2.CfnSecurityGroupIngressProps{
		GroupId:               clusterSG.SecurityGroupId(),
		SourceSecurityGroupId: peer.SecurityGroupId(),
		IpProtocol:            jsii.String("tcp"),
		FromPort:              jsii.Number(database.Port),
		ToPort:                jsii.Number(database.Port),
		Description:           jsii.String(description),
	})
	peer.AddEgressRule(awsec2.Peer_SecurityGroupId(clusterSG.SecurityGroupId(), nil), awsec2.Port_Tcp(jsii.Number(database.Port)),
		jsii.String("Aurora PostgreSQL"), nil)
}

// pinPorts replaces the endpoint-port token in the rules CDK adds on its own
// (the rotation function's ingress to the cluster and egress from its group)
// with the literal port the cluster is configured with, so that cdk-nag
// evaluates them.
func pinPorts(groups ...awsec2.SecurityGroup) {
	for _, sg := range groups {
		for _, child := range *sg.Node().Children() {
			switch rule := child.(type) {
			case awsec2.CfnSecurityGroupIngress:
				if *awscdk.Token_IsUnresolved(rule.FromPort()) {
					rule.SetFromPort(jsii.Number(database.Port))
					rule.SetToPort(jsii.Number(database.Port))
				}
			case awsec2.CfnSecurityGroupEgress:
				if *awscdk.Token_IsUnresolved(rule.FromPort()) {
					rule.SetFromPort(jsii.Number(database.Port))
					rule.SetToPort(jsii.Number(database.Port))
				}
			}
		}
	}
}

// newDatabaseBootstrap runs dbinit as a custom resource on every deployment
// that changes the migrations.
func newDatabaseBootstrap(scope constructs.Construct, cfg environment.Config, network *Network, keys *Keys, cluster awsrds.DatabaseCluster, root string) awscdk.CustomResource {
	secret := cluster.Secret()
	fn := NewGoFunction(scope, "Init", &GoFunctionProps{
		Config:           cfg,
		SourceRoot:       root,
		Package:          "./cmd/dbinit",
		Name:             "dbinit",
		Description:      "Applies the schema migrations and creates the IAM-authenticated application role",
		Timeout:          awscdk.Duration_Minutes(jsii.Number(5)),
		ConcurrencyBound: "CloudFormation invokes it once per deployment that changes the migrations.",
		Vpc:              network.Vpc,
		Subnets:          network.PrivateSubnets(),
		LogsKey:          keys.Logs,
		EnvironmentKey:   keys.Secrets,
		Statements: []awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("ReadMasterCredential"),
				Actions:   jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
				Resources: jsii.Strings(*secret.SecretArn()),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("DecryptMasterCredential"),
				Actions:   jsii.Strings("kms:Decrypt"),
				Resources: jsii.Strings(*keys.Secrets.KeyArn()),
				Conditions: &map[string]any{"StringEquals": map[string]any{
					"kms:ViaService": "secretsmanager." + cfg.Region + ".amazonaws.com",
				}},
			}),
		},
	})
	(&Database{Cluster: cluster}).AllowFrom(fn.SecurityGroup, "dbinit bootstraps the schema")

	// S3 through the gateway endpoint: the pre-signed CloudFormation
	// response URL.
	network.AllowHTTPSToS3(fn.SecurityGroup)
	// Not "Schema", the provider framework's resource before: CloudFormation
	// cannot change a custom resource's service token, so an environment
	// deployed with the framework replaces the resource instead (the old
	// one's Delete does nothing).
	cr := fn.CustomResource(scope, "Migrations", "Custom::PaymentsSchema", map[string]any{
		"SecretArn":        secret.SecretArn(),
		"AppRole":          database.AppRole,
		"RegistrarRole":    database.RegistrarRole,
		"AuditorRole":      database.AuditorRole,
		"MigrationsDigest": migrationsDigest(),
	})
	// The writer must be up, not only the cluster resource.
	cr.Node().AddDependency(cluster)
	return cr
}

// migrationsDigest hashes the migrations so that a new or changed one
// changes the custom resource's properties, which makes CloudFormation call
// dbinit again. They are embedded (package migrations): reading them cannot
// fail at synth.
func migrationsDigest() string {
	h := sha256.New()
	entries, _ := fs.ReadDir(migrations.FS, ".") // sorted by name
	for _, e := range entries {
		data, _ := fs.ReadFile(migrations.FS, e.Name())
		h.Write([]byte(e.Name() + "\x00"))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ConnectArnOf is the rds-db:connect resource of a database role on this
// cluster.
func (d *Database) ConnectArnOf(role string) *string {
	stack := awscdk.Stack_Of(d.Construct)
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:aws:rds-db:" + *stack.Region() + ":" + *stack.Account() + ":dbuser:"),
		d.Cluster.ClusterResourceIdentifier(),
		jsii.String("/" + role),
	})
}

// Environment is env with what a workload connecting to the writer as role
// needs (the database contract: host, port, database, role).
func (d *Database) Environment(role string, env map[string]string) map[string]string {
	connection := database.Environment(*d.Cluster.ClusterEndpoint().Hostname(), role)
	maps.Copy(connection, env)
	return connection
}

// suppressDatabaseFindings holds every accepted cdk-nag finding of the database.
func suppressDatabaseFindings(d *Database, cfg environment.Config) {
	if !cfg.Posture().Protected {
		reason := "Non-production environments must be destroyable by `make destroy` (a PR environment leaves nothing behind). " +
			"With production=true the cluster has deletion protection and is snapshotted on delete; a test pins both."
		suppress(d.Cluster, true, because(reason, "AwsSolutions-RDS10", "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled")...)
	}
	// RDSInBackupPlan is evaluated per instance; Aurora backs up the cluster
	// volume, not instances.
	for _, instance := range clusterInstanceIDs {
		suppress(d.Cluster.Node().FindChild(jsii.String(instance)), true, finding{
			rule: "NIST.800.53.R5-RDSInBackupPlan",
			reason: "Aurora instances hold no data of their own: the cluster volume is continuously backed up with point-in-time recovery " +
				"(7 days, 35 in production), encrypted with the database key, and snapshotted on delete in production.",
		})
	}
	suppress(d.Node().FindChild(jsii.String("MonitoringRolePolicy")), true, finding{
		rule:      "AwsSolutions-IAM5",
		appliesTo: []string{"Resource::arn:aws:logs:" + cfg.Region + ":" + cfg.Account + ":log-group:RDSOSMetrics:log-stream:*"},
		reason:    "Enhanced Monitoring writes one log stream per instance, named by RDS, into the RDSOSMetrics group; the grant is limited to that group's streams.",
	})
	dlq := customResourceDLQReason
	suppress(d.Node().FindChild(jsii.String("Init")).Node().FindChild(jsii.String("Function")), true,
		finding{rule: "NIST.800.53.R5-LambdaDLQ", reason: dlq})
}
