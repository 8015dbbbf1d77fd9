// Package diagram draws the architecture from a synthesized cloud assembly
// (cdk.out) as a Graphviz graph, so the picture in docs/ is always the one
// the templates describe (`make diagram` runs cmd/diagram and renders the
// result to SVG).
//
// How the templates become a picture:
//   - Nodes are the resources an architect draws (the kinds table); every
//     other resource belongs to the node whose construct path is the
//     longest prefix of its own (a cluster's instances, a function's event
//     source mapping, an API's methods). Endpoints, NAT instances, alarms,
//     keys and log groups are drawn once per stack with a count.
//   - An edge A -> B means a resource of A refers to one of B (Ref, GetAtt,
//     a cross-stack import or output), directly or through resources that
//     are not drawn (roles, policies, task definitions). Nobody draws an
//     arrow to the VPC, a key or a log group from every box, so those are
//     drawn without incoming edges.
//   - Security-group ingress rules become network edges (source -> target,
//     port); a web ACL association points the ACL at what it protects; an
//     https:// URL in a property points at the node whose certificate names
//     that host (API Gateway's HTTP integration to the ALB).
//   - Functions that only serve custom resources are deploy-time plumbing,
//     drawn grey.
package diagram

import (
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/fintech/payments-platform/assembly"
)

// kind is how one resource type is drawn.
type kind struct {
	label    string
	group    string // style: edge, compute, data, messaging, network, security, observability
	counted  bool   // one node per stack, with a count
	named    bool   // a counted node lists its members' construct ids
	noArrows bool   // drawn without incoming reference edges
}

var kinds = map[string]kind{
	"AWS::ApiGateway::DomainName":               {label: "API custom domain", group: "edge"},
	"AWS::ApiGateway::RestApi":                  {label: "API Gateway REST API", group: "edge"},
	"AWS::ApiGatewayV2::VpcLink":                {label: "VPC link", group: "edge"},
	"AWS::WAFv2::WebACL":                        {label: "WAF web ACL", group: "edge"},
	"AWS::WAFv2::RuleGroup":                     {label: "WAF rule group", group: "edge"},
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {label: "Application Load Balancer", group: "edge"},
	"AWS::ECS::Service":                         {label: "ECS Fargate service", group: "compute"},
	"AWS::Lambda::Function":                     {label: "Lambda function", group: "compute"},
	"AWS::Serverless::Application":              {label: "Serverless application", group: "compute"},
	"AWS::RDS::DBCluster":                       {label: "Aurora cluster", group: "data"},
	"AWS::S3::Bucket":                           {label: "S3 bucket", group: "data"},
	"AWS::SQS::Queue":                           {label: "SQS queue", group: "messaging"},
	"AWS::SNS::Topic":                           {label: "SNS topic", group: "messaging"},
	"AWS::SecretsManager::Secret":               {label: "Secret", group: "security"},
	"AWS::KMS::Key":                             {label: "KMS keys", group: "security", counted: true, noArrows: true, named: true},
	"AWS::EC2::VPC":                             {label: "VPC", group: "network", noArrows: true},
	"AWS::EC2::Instance":                        {label: "EC2 instances", group: "network", counted: true, named: true},
	"AWS::EC2::VPCEndpoint":                     {label: "VPC endpoints", group: "network", counted: true, named: true},
	"AWS::CloudWatch::Dashboard":                {label: "CloudWatch dashboard", group: "observability"},
	"AWS::CloudWatch::Alarm":                    {label: "CloudWatch alarms", group: "observability", counted: true, named: true},
	"AWS::Logs::LogGroup":                       {label: "Log groups", group: "observability", counted: true, noArrows: true},
}

// Owned resources counted in their node's label.
var shownCounts = map[string]string{
	"AWS::EC2::Subnet": "subnet", "AWS::EC2::RouteTable": "route table", "AWS::RDS::DBInstance": "instance",
	"AWS::ApiGateway::Method": "method", "AWS::ElasticLoadBalancingV2::ListenerRule": "listener rule",
}

// Properties that hold a resource's physical name.
var nameProperties = []string{
	"FunctionName", "BucketName", "QueueName", "DBClusterIdentifier", "Name", "DomainName",
	"DashboardName", "TopicName", "ServiceName", "LoadBalancerName",
}

// Resource policies name who may use a resource: their references are not
// the resource using anything.
var resourcePolicies = map[string]bool{
	"AWS::S3::BucketPolicy": true, "AWS::SQS::QueuePolicy": true, "AWS::SNS::TopicPolicy": true,
	"AWS::SecretsManager::ResourcePolicy": true, "AWS::KMS::Key": true,
}

// bothWays marks an edge between two nodes that refer to each other.
const bothWays = "\x00both"

var groupStyles = map[string]string{
	"edge":          `fillcolor="#fde2c8"`,
	"compute":       `fillcolor="#fff2b3"`,
	"data":          `fillcolor="#c9e4ff"`,
	"messaging":     `fillcolor="#e3d4f7"`,
	"security":      `fillcolor="#f7d4d4"`,
	"network":       `fillcolor="#d4f0d4"`,
	"observability": `fillcolor="#e6e6e6"`,
}

// Node is one box of the diagram.
type Node struct {
	ID, Stack, Kind string
	Lines           []string
	DeployTime      bool
	members         int
	names           []string
}

// Edge is one arrow.
type Edge struct {
	From, To, Label string
}

// Graph is the diagram: nodes grouped by stack, and edges.
type Graph struct {
	Stacks []*assembly.Stack
	Nodes  map[string]*Node
	Edges  []Edge
}

type ref struct{ stack, id string }

// builder holds the indexes Build derives the graph from.
type builder struct {
	g         *Graph
	resources map[ref]assembly.Resource
	order     []ref          // resources sorted, for a deterministic walk
	owner     map[ref]*Node  // the drawn node a resource belongs to
	imports   map[string]ref // export name, or stack/output, -> resource
	policies  map[ref][]ref  // role -> the policies attached to it
	edges     map[Edge]bool
}

// Build derives the diagram from the stacks of an assembly
// (assembly.Load).
func Build(stacks []*assembly.Stack) *Graph {
	b := &builder{
		g:         &Graph{Stacks: stacks, Nodes: map[string]*Node{}},
		resources: map[ref]assembly.Resource{},
		owner:     map[ref]*Node{},
		imports:   map[string]ref{},
		policies:  map[ref][]ref{},
		edges:     map[Edge]bool{},
	}
	b.index(stacks)
	b.connect()
	b.label()
	b.g.Edges = collapse(b.edges)
	return b.g
}

// index creates the nodes, assigns every resource to the node with the
// longest construct-path prefix of its own, and records what imports and
// attached policies resolve to.
func (b *builder) index(stacks []*assembly.Stack) {
	type prefix struct {
		stack, prefix string
		node          *Node
	}
	var prefixes []prefix
	for _, s := range stacks {
		for id, r := range s.Template.Resources {
			if r.Type == "AWS::CDK::Metadata" {
				continue
			}
			key := ref{s.Name, id}
			b.resources[key] = r
			b.order = append(b.order, key)
			k, ok := kinds[r.Type]
			if !ok {
				continue
			}
			nodeID := strings.TrimSuffix(r.Path(), "/Resource")
			if k.counted {
				nodeID = s.Name + "/" + r.Type
			}
			n := b.g.Nodes[nodeID]
			if n == nil {
				n = &Node{ID: nodeID, Stack: s.Name, Kind: r.Type}
				b.g.Nodes[nodeID] = n
			}
			n.members++
			if k.counted {
				n.names = append(n.names, constructID(r.Path()))
			} else {
				n.Lines = []string{k.label, physicalName(r, r.Path())}
			}
			prefixes = append(prefixes, prefix{s.Name, strings.TrimSuffix(r.Path(), "/Resource") + "/", n})
		}
		for name, o := range s.Template.Outputs {
			if target, ok := referenced(o.Value, s.Name, nil); ok {
				b.imports[s.Name+"/"+name] = target
				if o.Export.Name != "" {
					b.imports[o.Export.Name] = target
				}
			}
		}
	}
	sort.Slice(b.order, func(i, j int) bool { return b.order[i].stack+b.order[i].id < b.order[j].stack+b.order[j].id })
	sort.Slice(prefixes, func(i, j int) bool { return len(prefixes[i].prefix) > len(prefixes[j].prefix) })
	for _, key := range b.order {
		p := b.resources[key].Path() + "/"
		for _, candidate := range prefixes {
			if candidate.stack == key.stack && strings.HasPrefix(p, candidate.prefix) {
				b.owner[key] = candidate.node
				break
			}
		}
	}
	// A role uses what the policies attached to it grant: the policy names
	// the role, so that reference is followed backwards.
	for _, key := range b.order {
		if r := b.resources[key]; r.Type == "AWS::IAM::ManagedPolicy" || r.Type == "AWS::IAM::Policy" {
			roles, _ := r.Properties["Roles"].([]any)
			for _, role := range roles {
				if target, ok := referenced(role, key.stack, nil); ok {
					b.policies[target] = append(b.policies[target], key)
				}
			}
		}
	}
}

// resolve is referenced with this assembly's imports.
func (b *builder) resolve(v any, stack string) (ref, bool) {
	target, ok := referenced(v, stack, func(name string) (ref, bool) {
		t, ok := b.imports[name]
		return t, ok
	})
	if _, exists := b.resources[target]; !exists {
		return ref{}, false
	}
	return target, ok
}

// refsOf lists the resources a resource uses.
func (b *builder) refsOf(key ref) []ref {
	r := b.resources[key]
	if resourcePolicies[r.Type] {
		return nil
	}
	out := slices.Clone(b.policies[key])
	properties := maps.Clone(r.Properties)
	delete(properties, "ServiceToken") // who deploys it, not what it uses
	delete(properties, "Roles")        // a policy's roles use it, not the reverse
	walk(properties, func(v any) {
		if target, ok := b.resolve(v, key.stack); ok {
			out = append(out, target)
		}
	})
	return out
}

// reach follows references through undrawn resources to drawn ones.
func (b *builder) reach(start ref) []*Node {
	var found []*Node
	seen := map[ref]bool{start: true}
	queue := b.refsOf(start)
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		if seen[next] {
			continue
		}
		seen[next] = true
		if n := b.owner[next]; n != nil {
			found = append(found, n)
			continue
		}
		queue = append(queue, b.refsOf(next)...)
	}
	return found
}

func (b *builder) add(from, to *Node, label string) {
	if from != nil && to != nil && from != to && !kinds[from.Kind].noArrows {
		b.edges[Edge{from.ID, to.ID, label}] = true
	}
}

// connect adds the edges: references, security-group rules, web ACL
// associations, HTTPS calls by host name and literal S3 ARNs.
func (b *builder) connect() {
	// A security group belongs to the node that owns it, else to the
	// nodes whose resources attach it.
	attachedBy := map[ref][]*Node{}
	hosts := map[string]*Node{} // certificate host name -> the node serving it
	buckets := map[string]*Node{}
	deployTime := map[ref]bool{}
	for _, key := range b.order {
		r := b.resources[key]
		if n := b.owner[key]; n != nil && r.Type != "AWS::EC2::SecurityGroupIngress" {
			for _, target := range b.refsOf(key) {
				switch t := b.resources[target]; t.Type {
				case "AWS::EC2::SecurityGroup":
					attachedBy[target] = append(attachedBy[target], n)
				case "AWS::CertificateManager::Certificate":
					if host, ok := t.Properties["DomainName"].(string); ok {
						hosts[host] = n
					}
				}
			}
		}
		if name, ok := r.Properties["BucketName"].(string); ok && r.Type == "AWS::S3::Bucket" {
			buckets[name] = b.owner[key]
		}
		// A function behind a custom resource's ServiceToken (directly, or
		// through a provider function, as CDK's own resources are) runs at
		// deploy time only.
		if target, ok := referenced(r.Properties["ServiceToken"], key.stack, nil); ok {
			deployTime[target] = true
			for _, next := range b.refsOf(target) {
				if b.resources[next].Type == "AWS::Lambda::Function" {
					deployTime[next] = true
				}
			}
		}
	}
	groupOwners := func(v any, stack string) []*Node {
		target, ok := b.resolve(v, stack)
		if !ok {
			return nil
		}
		if n := b.owner[target]; n != nil {
			return []*Node{n}
		}
		return attachedBy[target]
	}

	for _, key := range b.order {
		r := b.resources[key]
		switch r.Type {
		case "AWS::EC2::SecurityGroupIngress":
			port := fmt.Sprintf("tcp/%v", r.Properties["FromPort"])
			for _, from := range groupOwners(r.Properties["SourceSecurityGroupId"], key.stack) {
				for _, to := range groupOwners(r.Properties["GroupId"], key.stack) {
					b.add(from, to, port)
				}
			}
			continue
		case "AWS::WAFv2::WebACLAssociation":
			acl, _ := referenced(r.Properties["WebACLArn"], key.stack, nil)
			target, ok := referenced(r.Properties["ResourceArn"], key.stack, nil)
			if !ok {
				// A stage's ARN is joined from the API's id and the
				// stage's name: the API is the first resource it names.
				walk(r.Properties["ResourceArn"], func(v any) {
					if t, found := referenced(v, key.stack, nil); found && !ok {
						target, ok = t, true
					}
				})
			}
			b.add(b.owner[acl], b.owner[target], "protects")
			continue
		}
		from := b.owner[key]
		if from == nil {
			continue
		}
		if deployTime[key] {
			from.DeployTime = true
		}
		for _, to := range b.reach(key) {
			if !kinds[to.Kind].noArrows {
				b.add(from, to, "")
			}
		}
		if resourcePolicies[r.Type] {
			continue
		}
		walk(r.Properties, func(v any) {
			s, _ := v.(string)
			if u, err := url.Parse(s); err == nil && u.Scheme == "https" {
				b.add(from, hosts[u.Host], "HTTPS")
			}
			if name, ok := strings.CutPrefix(s, "arn:aws:s3:::"); ok {
				name, _, _ = strings.Cut(name, "/")
				b.add(from, buckets[name], "")
			}
		})
	}
}

// label writes the counted nodes' lines and the counts of what nodes own.
func (b *builder) label() {
	for _, n := range b.g.Nodes {
		k := kinds[n.Kind]
		if k.counted {
			n.Lines = []string{fmt.Sprintf("%s ×%d", k.label, n.members)}
			if k.named {
				n.Lines = append(n.Lines, wrap(slices.Compact(slices.Sorted(slices.Values(n.names))), 4)...)
			}
		}
	}
	counts := map[*Node]map[string]int{}
	for _, key := range b.order {
		if label, ok := shownCounts[b.resources[key].Type]; ok && b.owner[key] != nil {
			if counts[b.owner[key]] == nil {
				counts[b.owner[key]] = map[string]int{}
			}
			counts[b.owner[key]][label]++
		}
	}
	for n, c := range counts {
		for _, label := range slices.Sorted(maps.Keys(c)) {
			plural := ""
			if c[label] != 1 {
				plural = "s"
			}
			n.Lines = append(n.Lines, fmt.Sprintf("%d %s%s", c[label], label, plural))
		}
	}
}

// collapse sorts the edges, drops a reference where a labelled edge (a
// port, HTTPS) joins the same two nodes, and draws a pair referring to each
// other as one two-headed edge.
func collapse(edges map[Edge]bool) []Edge {
	var out []Edge
	for e := range edges {
		if e.Label == "" {
			labelled := false
			for other := range edges {
				labelled = labelled || (other.Label != "" && other.From == e.From && other.To == e.To)
			}
			if labelled {
				continue
			}
			if edges[Edge{e.To, e.From, ""}] {
				if e.From > e.To {
					continue
				}
				e.Label = bothWays
			}
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.From+a.To+a.Label < b.From+b.To+b.Label
	})
	return out
}

// constructID is the id of the construct that made a resource: the last
// path segment other than "Resource".
func constructID(p string) string {
	p = strings.TrimSuffix(p, "/Resource")
	return p[strings.LastIndex(p, "/")+1:]
}

// wrap joins words into lines of at most n words.
func wrap(words []string, n int) []string {
	var lines []string
	for len(words) > 0 {
		k := min(n, len(words))
		lines = append(lines, strings.Join(words[:k], ", "))
		words = words[k:]
	}
	return lines
}

// physicalName is the resource's literal name, else its construct path
// within the stack.
func physicalName(r assembly.Resource, constructPath string) string {
	for _, p := range nameProperties {
		if name, ok := r.Properties[p].(string); ok && name != "" {
			return name
		}
	}
	_, rel, _ := strings.Cut(strings.TrimSuffix(constructPath, "/Resource"), "/")
	return rel
}

// referenced resolves a reference expression to the resource it names.
// importByName resolves Fn::ImportValue and Fn::GetStackOutput names.
func referenced(v any, stack string, importByName func(string) (ref, bool)) (ref, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return ref{}, false
	}
	switch {
	case m["Ref"] != nil:
		id, _ := m["Ref"].(string)
		return ref{stack, id}, id != "" && !strings.HasPrefix(id, "AWS::")
	case m["Fn::GetAtt"] != nil:
		if parts, ok := m["Fn::GetAtt"].([]any); ok && len(parts) > 0 {
			id, _ := parts[0].(string)
			return ref{stack, id}, id != ""
		}
	case m["Fn::ImportValue"] != nil && importByName != nil:
		if name, ok := m["Fn::ImportValue"].(string); ok {
			return importByName(name)
		}
	case m["Fn::GetStackOutput"] != nil && importByName != nil:
		if o, ok := m["Fn::GetStackOutput"].(map[string]any); ok {
			s, _ := o["StackName"].(string)
			name, _ := o["OutputName"].(string)
			return importByName(s + "/" + name)
		}
	}
	return ref{}, false
}

// walk calls visit on every value of a JSON tree.
func walk(v any, visit func(any)) {
	visit(v)
	switch t := v.(type) {
	case map[string]any:
		for _, child := range t {
			walk(child, visit)
		}
	case []any:
		for _, child := range t {
			walk(child, visit)
		}
	}
}

// WriteDOT writes the graph in Graphviz's language, one cluster per stack.
func (g *Graph) WriteDOT(w io.Writer) {
	fmt.Fprintln(w, "// Generated by `make diagram` (cmd/diagram) from cdk.out; do not edit.")
	fmt.Fprintln(w, "digraph payments {")
	fmt.Fprintln(w, `  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.25, ranksep=0.6, newrank=true];`)
	fmt.Fprintln(w, `  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];`)
	fmt.Fprintln(w, `  edge [fontname="Helvetica", fontsize=9, color="#555555"];`)
	fmt.Fprintln(w, `  client [label="Client\n(client certificate + API key)", shape=ellipse, fillcolor="#ffffff"];`)
	for i, s := range g.Stacks {
		fmt.Fprintf(w, "  subgraph cluster_%d {\n    label=%q; style=\"rounded\"; color=\"#888888\";\n", i, s.Name+" ("+s.Region+")")
		for _, id := range slices.Sorted(maps.Keys(g.Nodes)) {
			n := g.Nodes[id]
			if n.Stack != s.Name {
				continue
			}
			style := groupStyles[kinds[n.Kind].group]
			if n.DeployTime {
				style = `fillcolor="#f4f4f4", fontcolor="#777777", style="rounded,filled,dashed"`
			}
			fmt.Fprintf(w, "    %q [label=%q, %s];\n", id, strings.Join(n.Lines, "\n"), style)
		}
		fmt.Fprintln(w, "  }")
	}
	for _, id := range slices.Sorted(maps.Keys(g.Nodes)) {
		if g.Nodes[id].Kind == "AWS::ApiGateway::DomainName" {
			fmt.Fprintf(w, "  client -> %q [label=\"mutual TLS\", color=\"#c05000\", penwidth=1.5];\n", id)
		}
	}
	for _, e := range g.Edges {
		var attrs []string
		switch e.Label {
		case "":
		case bothWays:
			attrs = append(attrs, "dir=both")
		default:
			attrs = append(attrs, fmt.Sprintf("label=%q", e.Label))
		}
		if kinds[g.Nodes[e.From].Kind].group == "observability" {
			attrs = append(attrs, `style=dotted`, `color="#999999"`) // monitors, does not call
		}
		if len(attrs) > 0 {
			fmt.Fprintf(w, "  %q -> %q [%s];\n", e.From, e.To, strings.Join(attrs, ", "))
		} else {
			fmt.Fprintf(w, "  %q -> %q;\n", e.From, e.To)
		}
	}
	fmt.Fprintln(w, "}")
}
