package infra_test

import (
	"strings"
	"testing"
)

// Every key that encrypts rotates (KMS rotates only symmetric keys; the
// signing key encrypts nothing), every key carries an alias with the suffix
// and is scheduled for deletion (never retained) outside production.
func TestKeysRotateAndCarryTheSuffix(t *testing.T) {
	keys := resources("AWS::KMS::Key")
	if len(keys) < 6 {
		t.Fatalf("got %d keys, want one per data domain (at least 6)", len(keys))
	}
	for _, k := range keys {
		if k.Properties["EnableKeyRotation"] != true && k.Properties["KeyUsage"] != "SIGN_VERIFY" {
			t.Errorf("%s: automatic rotation off", k)
		}
		if k.Properties["PendingWindowInDays"] != float64(7) {
			t.Errorf("%s: PendingWindowInDays=%v, want 7 outside production", k, k.Properties["PendingWindowInDays"])
		}
	}
	aliases := map[string]bool{}
	for _, a := range resources("AWS::KMS::Alias") {
		aliases[a.Properties["AliasName"].(string)] = true
	}
	for _, domain := range []string{"database", "documents", "logs", "messaging", "secrets", "compute", "signing", "documents-replica", "logs-replica"} {
		if !aliases["alias/payments/"+testSuffix+"/"+domain] {
			t.Errorf("no key alias for the %s domain; have %v", domain, aliases)
		}
	}
}

// CloudWatch Logs may use a logs key only for this environment's log groups
// in its own region; CloudWatch may publish alarms with the messaging key
// only for this account; no other key admits a service principal.
func TestKeyPoliciesScopeServicePrincipals(t *testing.T) {
	services, cloudwatch := 0, 0
	for _, k := range resources("AWS::KMS::Key") {
		for _, raw := range k.Properties["KeyPolicy"].(map[string]any)["Statement"].([]any) {
			s := raw.(map[string]any)
			principal, _ := s["Principal"].(map[string]any)
			if principal["Service"] == nil {
				continue
			}
			if principal["Service"] == "cloudwatch.amazonaws.com" {
				cloudwatch++
				if jsonOf(s["Condition"]) != `{"StringEquals":{"aws:SourceAccount":"`+cfg.Account+`"}}` || jsonOf(s["Action"]) != `["kms:Decrypt","kms:GenerateDataKey"]` {
					t.Errorf("%s: CloudWatch statement %s", k, jsonOf(s))
				}
				continue
			}
			services++
			region := "ap-southeast-1"
			if k.stack == *stacks.Replica.StackName() {
				region = cfg.ReplicaRegion
			}
			if principal["Service"] != "logs."+region+".amazonaws.com" {
				t.Errorf("%s: unexpected service principal %v", k, principal["Service"])
			}
			arns := stringsOf(s["Condition"].(map[string]any)["ArnLike"].(map[string]any)["kms:EncryptionContext:aws:logs:arn"])
			if len(arns) == 0 {
				t.Errorf("%s: logs statement without an encryption-context condition", k)
			}
			for _, arn := range arns {
				// API Gateway names its execution-log groups after the API id only.
				apiGatewayExecutionLogs := strings.HasSuffix(arn, ":log-group:API-Gateway-Execution-Logs_*")
				if (!strings.Contains(arn, testSuffix) && !apiGatewayExecutionLogs) || !strings.Contains(arn, ":"+region+":") {
					t.Errorf("%s: logs may use the key for %q, outside this environment", k, arn)
				}
			}
		}
	}
	if services != 2 || cloudwatch != 1 {
		t.Errorf("got %d logs and %d CloudWatch statements, want the two logs keys' and the messaging key's", services, cloudwatch)
	}
}
