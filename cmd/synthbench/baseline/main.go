// Command baseline is the smallest CDK app on the same toolchain (one stack,
// one SQS queue): synthbench divides the real app's synth time by its own.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("SynthBaseline"), nil)
	awssqs.NewQueue(stack, jsii.String("Queue"), &awssqs.QueueProps{Encryption: awssqs.QueueEncryption_SQS_MANAGED})
	app.Synth(nil)
}
