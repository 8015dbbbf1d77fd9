package infra_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The API runs on Fargate (arm64) with a read-only root filesystem as a
// non-root user, logs to an encrypted audit group, and may only connect to
// Aurora as the application role.
func TestApiTaskDefinition(t *testing.T) {
	task := one(t, appResources("AWS::ECS::TaskDefinition"), "task definitions")
	p := task.Properties
	if jsonOf(p["RuntimePlatform"]) != `{"CpuArchitecture":"ARM64","OperatingSystemFamily":"LINUX"}` ||
		p["Cpu"] != "512" || p["Memory"] != "1024" || jsonOf(p["RequiresCompatibilities"]) != `["FARGATE"]` {
		t.Errorf("task: platform %s cpu %v memory %v", jsonOf(p["RuntimePlatform"]), p["Cpu"], p["Memory"])
	}
	containers := p["ContainerDefinitions"].([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers", len(containers))
	}
	c := containers[0].(map[string]any)
	if c["ReadonlyRootFilesystem"] != true || c["User"] != "65532:65532" || c["Privileged"] != false {
		t.Errorf("container hardening: readonly=%v user=%v privileged=%v", c["ReadonlyRootFilesystem"], c["User"], c["Privileged"])
	}
	logging := jsonOf(c["LogConfiguration"])
	if !strings.Contains(logging, `"awslogs-group":{"Ref":"ApiLogGroup`) || !strings.Contains(logging, `"mode":"non-blocking"`) {
		t.Errorf("logging %s", logging)
	}
	env := jsonOf(c["Environment"])
	for _, want := range []string{`"API_TLS","Value":"true"`, `"DATABASE_USER","Value":"payments_app"`, "DATABASE_WRITER_HOST", "DATABASE_READER_HOST"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %s: %s", want, env)
		}
	}

	var taskActions []string
	taskPolicy := policyOf(t, appResources("AWS::IAM::ManagedPolicy"), "payments-api-task-"+testSuffix+"-policy")
	if policy := jsonOf(taskPolicy); !strings.Contains(policy, ":dbuser:") || !strings.Contains(policy, "/payments_app") {
		t.Errorf("rds-db:connect is not limited to the application role: %s", policy)
	}
	for _, s := range taskPolicy {
		taskActions = append(taskActions, stringsOf(s["Action"])...)
	}
	slices.Sort(taskActions)
	if want := []string{"kms:Decrypt", "kms:GenerateDataKey", "rds-db:connect", "sqs:GetQueueAttributes", "sqs:SendMessage"}; !slices.Equal(taskActions, want) {
		t.Errorf("task role actions %v, want %v", taskActions, want)
	}
}

// The service keeps a task in every AZ, has no public IPs, rolls back a
// failed deployment, and scales on CPU 70 % and memory 80 %.
func TestApiServiceAndAutoscaling(t *testing.T) {
	svc := one(t, appResources("AWS::ECS::Service"), "services").Properties
	network := jsonOf(svc["NetworkConfiguration"])
	if !strings.Contains(network, `"AssignPublicIp":"DISABLED"`) || strings.Count(network, "privateSubnet") != 3 {
		t.Errorf("network %s", network)
	}
	if svc["DesiredCount"] != float64(3) || svc["LaunchType"] != "FARGATE" {
		t.Errorf("desired %v launch %v", svc["DesiredCount"], svc["LaunchType"])
	}
	if got := jsonOf(svc["DeploymentConfiguration"]); got != `{"DeploymentCircuitBreaker":{"Enable":true,"Rollback":true},"MaximumPercent":200,"MinimumHealthyPercent":100}` {
		t.Errorf("deployment %s", got)
	}
	cluster := one(t, appResources("AWS::ECS::Cluster"), "clusters").Properties
	if got := jsonOf(cluster["ClusterSettings"]); got != `[{"Name":"containerInsights","Value":"enhanced"}]` {
		t.Errorf("container insights %s", got)
	}

	target := one(t, appResources("AWS::ApplicationAutoScaling::ScalableTarget"), "scalable targets").Properties
	if target["MinCapacity"] != float64(3) || target["MaxCapacity"] != float64(12) {
		t.Errorf("capacity %v-%v", target["MinCapacity"], target["MaxCapacity"])
	}
	targets := map[string]float64{}
	for _, p := range appResources("AWS::ApplicationAutoScaling::ScalingPolicy") {
		cfg := p.Properties["TargetTrackingScalingPolicyConfiguration"].(map[string]any)
		metric := cfg["PredefinedMetricSpecification"].(map[string]any)["PredefinedMetricType"].(string)
		targets[metric] = cfg["TargetValue"].(float64)
	}
	if targets["ECSServiceAverageCPUUtilization"] != 70 || targets["ECSServiceAverageMemoryUtilization"] != 80 || len(targets) != 2 {
		t.Errorf("target tracking %v, want CPU 70 and memory 80", targets)
	}
}

// The staged Docker build context holds only what the image compiles from,
// and cmd/api compiles from it alone for linux/arm64 (what the Dockerfile's
// build stage runs; no Docker engine is needed for this check).
func TestDockerContextBuildsTheApi(t *testing.T) {
	dockerfiles, _ := filepath.Glob(filepath.Join(outdir, "asset.*", "Dockerfile"))
	if len(dockerfiles) != 1 {
		t.Fatalf("got %d staged Docker contexts, want 1", len(dockerfiles))
	}
	dir := filepath.Dir(dockerfiles[0])
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, path)
		if strings.HasSuffix(rel, "_test.go") || strings.HasPrefix(rel, "infra") || strings.HasPrefix(rel, "node_modules") || strings.HasPrefix(rel, "cdk.out") {
			t.Errorf("the image context holds %s", rel)
		}
		return nil
	})
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(t.TempDir(), "api"), "./cmd/api")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cmd/api does not build from the image context: %v\n%s", err, out)
	}
}
