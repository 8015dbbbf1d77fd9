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
	// which closes the confused-deputy hole for service principals.
	Account string
	// Statements are everything the role may do.
	Statements []awsiam.PolicyStatement
}

// NewServiceRole creates a role whose permissions are one customer-managed
// policy and returns it without policy updates: CDK grants made later (for
// example by FlowLog) cannot widen it with an inline policy behind the
// reviewer's back. PCI DSS 7.2 and NIST AC-6 both ask for reviewable,
// versioned policies, which inline ones are not.
func NewServiceRole(scope constructs.Construct, id string, props *ServiceRoleProps) awsiam.IRole {
	role := awsiam.NewRole(scope, &id, &awsiam.RoleProps{
		RoleName: jsii.String(props.Name),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String(props.Service), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": props.Account}},
		}),
	})
	awsiam.NewManagedPolicy(scope, jsii.String(id+"Policy"), &awsiam.ManagedPolicyProps{
		ManagedPolicyName: jsii.String(props.Name + "-policy"),
		Statements:        &props.Statements,
		Roles:             &[]awsiam.IRole{role},
	})
	return role.WithoutPolicyUpdates(nil)
}
