package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	sqtypes "github.com/aws/aws-sdk-go-v2/service/servicequotas/types"
)

const (
	// minUnreserved is what Lambda keeps unreserved in every account and
	// region: it refuses a reservation that would leave less.
	minUnreserved = 100
	// defaultVpcLinkLimit is API Gateway's documented default of VPC links
	// per account and region; Service Quotas publishes no code for it.
	defaultVpcLinkLimit = 10
	// wafPolicyName is the CloudWatch Logs resource policy WAF creates and
	// extends with every log group it is configured to log to.
	wafPolicyName = "AWSWAF-LOGS"
	// maxPolicyChars and maxPolicies are CloudWatch Logs' limits on
	// account-level resource policies: characters per policy, policies per
	// region.
	maxPolicyChars = 5120
	maxPolicies    = 10
	// arnOverhead approximates what WAF adds around each ARN it appends to
	// its policy: quotes and a comma.
	arnOverhead = 4
	// stackNameTag is the tag CloudFormation puts on what a stack creates.
	stackNameTag = "aws:cloudformation:stack-name"
)

// serviceQuota reads an account's quota. Service Quotas answers
// NoSuchResourceException for a quota the account never had applied: the
// AWS default is in force then.
func serviceQuota(ctx context.Context, api quotasAPI, service, code string) (int, error) {
	out, err := api.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: &service, QuotaCode: &code})
	var noSuch *sqtypes.NoSuchResourceException
	if errors.As(err, &noSuch) {
		def, err := api.GetAWSDefaultServiceQuota(ctx, &servicequotas.GetAWSDefaultServiceQuotaInput{ServiceCode: &service, QuotaCode: &code})
		if err != nil {
			return 0, err
		}
		return int(aws.ToFloat64(def.Quota.Value)), nil
	}
	if err != nil {
		return 0, err
	}
	return int(aws.ToFloat64(out.Quota.Value)), nil
}

// capacity compares what the deployment needs plus what other stacks hold
// with a quota. existing leaves out what this deployment's stacks already
// own: a redeploy updates those rather than creating more.
func capacity(check, noun, region, ref string, limit, existing, needs int, fix string) result {
	if existing+needs > limit {
		return fail(check, "%d %s of other stacks exist in %s and this deployment needs %d, over the quota of %d (%s): %s",
			existing, noun, region, needs, limit, ref, fix)
	}
	return ok(check, "%d in use by others, %d for this deployment, quota %d (%s)", existing, needs, limit, ref)
}

// ownedEC2 reports whether CloudFormation created the resource for one of
// the deployment's stacks.
func ownedEC2(tags []ec2types.Tag, stacks map[string]bool) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == stackNameTag && stacks[aws.ToString(t.Value)] {
			return true
		}
	}
	return false
}

func checkVPCQuota(ctx context.Context, quotas quotasAPI, api vpcsAPI, d deployment, region string) []result {
	const check, ref = "quota vpcs", "vpc/L-F678F1CE"
	limit, err := serviceQuota(ctx, quotas, "vpc", "L-F678F1CE")
	if err != nil {
		return []result{fail(check, "cannot read quota %s: %v", ref, err)}
	}
	existing := 0
	pages := ec2.NewDescribeVpcsPaginator(api, &ec2.DescribeVpcsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return []result{fail(check, "cannot list VPCs: %v", err)}
		}
		for _, v := range page.Vpcs {
			if !ownedEC2(v.Tags, d.Stacks) {
				existing++
			}
		}
	}
	return []result{capacity(check, "VPCs", region, ref, limit, existing, d.Regions[region].VPCs,
		"delete unused VPCs (or environments: make destroy ENV=...) or request an increase in Service Quotas")}
}

func checkInternetGatewayQuota(ctx context.Context, quotas quotasAPI, api internetGatewaysAPI, d deployment, region string) []result {
	const check, ref = "quota internet gateways", "vpc/L-A4707A72"
	limit, err := serviceQuota(ctx, quotas, "vpc", "L-A4707A72")
	if err != nil {
		return []result{fail(check, "cannot read quota %s: %v", ref, err)}
	}
	existing := 0
	pages := ec2.NewDescribeInternetGatewaysPaginator(api, &ec2.DescribeInternetGatewaysInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return []result{fail(check, "cannot list internet gateways: %v", err)}
		}
		for _, g := range page.InternetGateways {
			if !ownedEC2(g.Tags, d.Stacks) {
				existing++
			}
		}
	}
	return []result{capacity(check, "internet gateways", region, ref, limit, existing, d.Regions[region].InternetGateways,
		"delete unused VPCs and their gateways or request an increase in Service Quotas")}
}

func checkElasticIPQuota(ctx context.Context, quotas quotasAPI, api addressesAPI, d deployment, region string) []result {
	const check, ref = "quota elastic ips", "ec2/L-0263D0A3"
	creates := d.Regions[region].ElasticIPs
	if creates == 0 {
		return []result{ok(check, "none used (NAT instances use associated public addresses)")}
	}
	limit, err := serviceQuota(ctx, quotas, "ec2", "L-0263D0A3")
	if err != nil {
		return []result{fail(check, "cannot read quota %s: %v", ref, err)}
	}
	// DescribeAddresses is not paginated: it returns every address.
	out, err := api.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		return []result{fail(check, "cannot list Elastic IPs: %v", err)}
	}
	existing := 0
	for _, a := range out.Addresses {
		if !ownedEC2(a.Tags, d.Stacks) {
			existing++
		}
	}
	return []result{capacity(check, "Elastic IPs", region, ref, limit, existing, creates,
		"release unassociated Elastic IPs or request an increase in Service Quotas")}
}

func checkInterfaceEndpointQuota(ctx context.Context, quotas quotasAPI, d deployment, region string) []result {
	const check, ref = "quota interface endpoints", "vpc/L-29B6F2EB"
	limit, err := serviceQuota(ctx, quotas, "vpc", "L-29B6F2EB")
	if err != nil {
		return []result{fail(check, "cannot read quota %s: %v", ref, err)}
	}
	n := d.Regions[region].InterfaceEndpoints
	if n > limit {
		return []result{fail(check, "the new VPC has %d interface endpoints, over the quota of %d per VPC (%s): request an increase in Service Quotas",
			n, limit, ref)}
	}
	return []result{ok(check, "%d in the new VPC, quota %d per VPC (%s)", n, limit, ref)}
}

// checkLambdaConcurrency verifies that the reservations the deploy makes
// leave Lambda its 100 unreserved executions; otherwise CloudFormation fails
// the function update halfway through the deploy. Outside production nothing
// is reserved, so a new account's low limit passes.
func checkLambdaConcurrency(ctx context.Context, api lambdaAPI, d deployment, region, check string) []result {
	u := d.Regions[region]
	out, err := api.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		return []result{fail(check, "cannot read Lambda's account settings in %s: %v", region, err)}
	}
	limit := int(out.AccountLimit.ConcurrentExecutions)
	unreserved := int(aws.ToInt32(out.AccountLimit.UnreservedConcurrentExecutions))
	total := u.ReservedConcurrency()
	if total == 0 {
		return []result{ok(check, "this deploy reserves nothing in %s (account limit %d, %d unreserved)", region, limit, unreserved)}
	}
	// A redeploy sets reservations its functions may already hold: only
	// the difference comes out of the unreserved pool.
	adds := 0
	for _, r := range u.Reservations {
		held := 0
		if r.Function != "" {
			c, err := api.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(r.Function)})
			var notFound *lambdatypes.ResourceNotFoundException
			switch {
			case errors.As(err, &notFound):
			case err != nil:
				return []result{fail(check, "cannot read the concurrency of %s in %s: %v", r.Function, region, err)}
			default:
				held = int(aws.ToInt32(c.ReservedConcurrentExecutions))
			}
		}
		adds += r.N - held
	}
	left := unreserved - adds
	summary := fmt.Sprintf("account limit %d in %s, %d reserved already, this deploy reserves %d (%d more than its functions hold now)",
		limit, region, limit-unreserved, total, adds)
	if left < minUnreserved {
		return []result{fail(check, "%s, which would leave %d unreserved and Lambda keeps at least %d: request an increase of Lambda concurrent executions (Service Quotas lambda/L-B99A9384; production needs it, new accounts start at 10 or 50) or free other reservations",
			summary, left, minUnreserved)}
	}
	return []result{ok(check, "%s: %d stay unreserved", summary, left)}
}

func checkVpcLinkQuota(ctx context.Context, api vpcLinksAPI, d deployment, region string) []result {
	const check = "quota vpc links"
	u := d.Regions[region]
	existing := 0
	input := &apigatewayv2.GetVpcLinksInput{}
	for {
		out, err := api.GetVpcLinks(ctx, input)
		if err != nil {
			return []result{fail(check, "cannot list VPC links: %v", err)}
		}
		for _, l := range out.Items {
			// Matching the name as well as the stack tag: the name is
			// what makes a redeploy update the link in place.
			if !d.Stacks[l.Tags[stackNameTag]] && !slices.Contains(u.VpcLinkNames, aws.ToString(l.Name)) {
				existing++
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		input.NextToken = out.NextToken
	}
	ref := "the default per account and region; no quota code is documented"
	if existing+u.VpcLinks > defaultVpcLinkLimit {
		return []result{fail(check, "%d VPC links of other stacks exist in %s and this deployment needs %d, over %d (%s): delete unused VPC links (or environments: make destroy ENV=...) or ask AWS Support for more",
			existing, region, u.VpcLinks, defaultVpcLinkLimit, ref)}
	}
	return []result{ok(check, "%d in use by others, %d for this deployment, limit %d (%s)", existing, u.VpcLinks, defaultVpcLinkLimit, ref)}
}

// checkWAFLoggingPolicy verifies that WAF can grant itself write access to
// the deployment's log groups. WAF appends each new aws-waf-logs- group to
// the account's AWSWAF-LOGS resource policy; when that would pass the
// policy's size limit, or the policy cannot be created because the region
// has the most policies allowed, the logging configuration fails to create.
func checkWAFLoggingPolicy(ctx context.Context, api logsAPI, d deployment, region string) []result {
	const check = "waf logging policy"
	u := d.Regions[region]
	if len(u.WAFLogGroups) == 0 {
		return []result{ok(check, "this deploy logs no web ACL to CloudWatch Logs")}
	}
	var policies int
	var document *string
	input := &cloudwatchlogs.DescribeResourcePoliciesInput{}
	for {
		out, err := api.DescribeResourcePolicies(ctx, input)
		if err != nil {
			return []result{fail(check, "cannot list CloudWatch Logs resource policies: %v", err)}
		}
		for _, p := range out.ResourcePolicies {
			policies++
			if aws.ToString(p.PolicyName) == wafPolicyName {
				document = aws.String(aws.ToString(p.PolicyDocument))
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		input.NextToken = out.NextToken
	}
	if document == nil {
		if policies >= maxPolicies {
			return []result{fail(check, "%s does not exist and %s already has %d CloudWatch Logs resource policies, the most allowed, so WAF cannot create it for %s: delete an unused resource policy (aws logs describe-resource-policies)",
				wafPolicyName, region, policies, strings.Join(u.WAFLogGroups, ", "))}
		}
		return []result{ok(check, "%s does not exist yet and WAF can create it (%d of %d resource policies in %s)",
			wafPolicyName, policies, maxPolicies, region)}
	}
	size := len(*document)
	var added []string
	for _, arn := range u.WAFLogGroups {
		if !strings.Contains(*document, arn) {
			added = append(added, arn)
			size += len(arn) + arnOverhead
		}
	}
	if len(added) == 0 {
		return []result{ok(check, "%s already names every log group this deploy logs to (%d of %d characters)",
			wafPolicyName, size, maxPolicyChars)}
	}
	if size > maxPolicyChars {
		return []result{fail(check, "%s has %d characters and adding %s makes about %d, over CloudWatch Logs' %d per resource policy, so WAF cannot grant itself access and the logging configuration fails: remove the entries of deleted aws-waf-logs- log groups from %s (aws logs describe-resource-policies, then put-resource-policy)",
			wafPolicyName, len(*document), strings.Join(added, ", "), size, maxPolicyChars, wafPolicyName)}
	}
	return []result{ok(check, "%s grows from %d to about %d of %d characters", wafPolicyName, len(*document), size, maxPolicyChars)}
}
