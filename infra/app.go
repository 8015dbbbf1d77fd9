package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// Stacks are the stacks of one environment, in deployment order.
type Stacks struct {
	Keys    awscdk.Stack
	Network awscdk.Stack
}

// All returns the stacks in deployment order.
func (s Stacks) All() []awscdk.Stack {
	return []awscdk.Stack{s.Keys, s.Network}
}

// NewStacks builds every stack of the environment described by cfg. Stateful
// resources (keys, data) live apart from stateless ones so that the latter can
// be replaced without touching data.
func NewStacks(app awscdk.App, cfg Config) Stacks {
	newStack := func(component, description string) awscdk.Stack {
		name := cfg.StackName(component)
		return awscdk.NewStack(app, &name, &awscdk.StackProps{
			Env:                   cfg.Env(),
			StackName:             &name,
			Description:           jsii.String(description),
			TerminationProtection: jsii.Bool(cfg.Production),
		})
	}

	var s Stacks
	s.Keys = newStack("Keys", "Payments platform: customer-managed KMS keys, one per data domain (stateful)")
	keys := NewKeys(s.Keys, "Keys", &KeysProps{Config: cfg})

	s.Network = newStack("Network", "Payments platform: VPC over three AZs, NAT instances, VPC endpoints, flow logs")
	NewNetwork(s.Network, "Network", &NetworkProps{Config: cfg, LogsKey: keys.Logs, ComputeKey: keys.Compute})

	tags := awscdk.Tags_Of(app)
	tags.Add(jsii.String("Project"), jsii.String("payments"), nil)
	tags.Add(jsii.String("Environment"), jsii.String(cfg.EnvironmentSuffix), nil)
	tags.Add(jsii.String("DataClassification"), jsii.String("pci-cardholder-adjacent"), nil)
	return s
}
