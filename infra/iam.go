package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ServiceRoleProps configures NewServiceRole.
type ServiceRoleProps struct {
	// Name is the role's physical name; its policy is named "<Name>-policy".
	Name string
	// Service is the principal that assumes the role, e.g. "vpc-flow-logs.amazonaws.com".
	Service string
	// Account restricts the trust to this account's resources (aws:SourceAccount),
	// which closes the confused-deputy hole for service principals. Empty
	// only for a service that is not documented to send the key when it
	// assumes the role (API Gateway's account-wide CloudWatch role).
	Account string
	// Statements are everything the role may do.
	Statements []awsiam.PolicyStatement
}

// ServiceRole is a role whose permissions are one customer-managed policy.
type ServiceRole struct {
	// Role is the role without policy updates: CDK grants made later (for
	// example by FlowLog) cannot widen it with an inline policy behind the
	// reviewer's back. PCI DSS 7.2 and NIST AC-6 both ask for reviewable,
	// versioned policies, which inline ones are not.
	Role awsiam.IRole
	// Policy grants the statements. It is a resource of its own, attached
	// to the role after the role exists: see UsedBy.
	Policy awsiam.ManagedPolicy
}

// NewServiceRole creates the role and its policy.
func NewServiceRole(scope constructs.Construct, id string, props *ServiceRoleProps) *ServiceRole {
	var trust *awsiam.ServicePrincipalOpts
	if props.Account != "" {
		trust = &awsiam.ServicePrincipalOpts{Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": props.Account}}}
	}
	role := awsiam.NewRole(scope, &id, &awsiam.RoleProps{
		RoleName:  jsii.String(props.Name),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String(props.Service), trust),
	})
	policy := awsiam.NewManagedPolicy(scope, jsii.String(id+"Policy"), &awsiam.ManagedPolicyProps{
		ManagedPolicyName: jsii.String(props.Name + "-policy"),
		Statements:        &props.Statements,
		Roles:             &[]awsiam.IRole{role},
	})
	return &ServiceRole{Role: role.WithoutPolicyUpdates(nil), Policy: policy}
}

// UsedBy makes each consumer of the role wait for its policy. Referring to
// the role orders a resource after the role only, and CloudFormation may
// create the policy's attachment later: a VPC function would then be created
// without its network-interface permissions, a flow log or an Aurora
// instance would fail their checks of the role. Every resource that uses a
// service role when it is created must be passed here
// (TestPoliciesExistBeforeTheirUsers checks the templates).
func (r *ServiceRole) UsedBy(consumers ...constructs.IConstruct) {
	for _, c := range consumers {
		c.Node().AddDependency(r.Policy)
	}
}

// statement is an allow statement of named actions on named resources,
// under conditions (nil for none).
func statement(sid string, actions []string, resources []string, conditions map[string]any) awsiam.PolicyStatement {
	p := &awsiam.PolicyStatementProps{Sid: jsii.String(sid), Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)}
	if conditions != nil {
		p.Conditions = &conditions
	}
	return awsiam.NewPolicyStatement(p)
}
