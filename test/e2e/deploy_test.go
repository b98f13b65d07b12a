package e2e

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// The records of the emulator's org in TestDeploy: a snapshot of them is
// quick, and it is a snapshot's progress that the dashboard shows.
const (
	deploySnapshotAccounts = 300
	deploySnapshotContacts = 100
)

// TestDeploy checks deploy/ without a container engine: what its files say
// is compared with the Dockerfile and the shipped configs, and what they rely
// on (probe paths, the metrics of the dashboard) with a running bin/benthos.
func TestDeploy(t *testing.T) {
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	deploy := filepath.Join(root, "deploy")
	img := readImage(t, root)

	t.Run("every file parses", func(t *testing.T) {
		n := 0
		require.NoError(t, filepath.WalkDir(deploy, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			switch filepath.Ext(p) {
			case ".yaml", ".yml":
				dec := yaml.NewDecoder(strings.NewReader(string(b)))
				for {
					var v any
					if err := dec.Decode(&v); err != nil {
						assert.ErrorContains(t, err, "EOF", "%s parses as YAML", p)
						break
					}
				}
				n++
			case ".json":
				var v any
				assert.NoError(t, json.Unmarshal(b, &v), "%s parses as JSON", p)
				n++
			}
			return nil
		}))
		assert.GreaterOrEqual(t, n, 7, "compose, kubernetes and grafana files")
	})

	var compose composeFile
	b, err := os.ReadFile(filepath.Join(deploy, "compose", "compose.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &compose))
	objs := readK8s(t, filepath.Join(deploy, "kubernetes"))
	deployments := findK8s(objs, "Deployment")
	require.Len(t, deployments, 1, "one Deployment")
	dep := deployments[0]
	require.Len(t, dep.Spec.Template.Spec.Containers, 1)
	ctr := dep.Spec.Template.Spec.Containers[0]

	// The replicas of compose: the services built from the repository's Dockerfile.
	var replicas []string
	for name, s := range compose.Services {
		if s.Build != nil && filepath.Clean(filepath.Join(deploy, "compose", s.Build.Context, s.Build.Dockerfile)) == filepath.Join(root, "Dockerfile") {
			replicas = append(replicas, name)
		}
	}
	sort.Strings(replicas)
	require.NotEmpty(t, replicas, "compose has services built from the repository's Dockerfile")

	t.Run("compose: sfemu, two benthos replicas of the image, redis, postgres", func(t *testing.T) {
		require.Len(t, replicas, 2, "two services built from the repository's Dockerfile")
		for _, svc := range []string{"sfemu", "redis", "postgres"} {
			assert.Contains(t, compose.Services, svc)
		}
		emu := compose.Services["sfemu"]
		require.NotNil(t, emu.Build, "sfemu is built from the repository")
		emuDockerfile := filepath.Join(deploy, "compose", emu.Build.Context, emu.Build.Dockerfile)
		assert.Equal(t, dockerArg(t, filepath.Join(root, "Dockerfile"), "GO_VERSION"), dockerArg(t, emuDockerfile, "GO_VERSION"),
			"sfemu's image is built with the Go of the repository's Dockerfile")
		var hostPorts []string
		for _, name := range replicas {
			s := compose.Services[name]
			assert.Nil(t, s.Entrypoint, "%s keeps the image's entrypoint (it sets the listen address)", name)
			require.NotEmpty(t, s.Ports, "%s publishes the API", name)
			for _, p := range s.Ports {
				parts := strings.Split(p, ":")
				assert.Equal(t, img.port, parts[len(parts)-1], "%s maps the image's port (%s)", name, p)
				hostPorts = append(hostPorts, strings.Join(parts[:len(parts)-1], ":"))
			}
		}
		assert.Len(t, slices.Compact(slices.Sorted(slices.Values(hostPorts))), len(hostPorts), "each replica on its own host port")
		// Replicas: the same pipeline, store and checkpoint key, so that the
		// input's lease lets one of them consume at a time.
		first := compose.Services[replicas[0]]
		for _, name := range replicas[1:] {
			assert.Equal(t, first.Command, compose.Services[name].Command, "%s runs what %s runs", name, replicas[0])
			assert.Equal(t, first.Environment, compose.Services[name].Environment, "%s has the environment of %s", name, replicas[0])
		}
		// The pipeline's org is the emulator service, at the port it listens on.
		for _, name := range replicas {
			org := compose.Services[name].Environment["SF_ORG_URL"]
			assert.True(t, strings.HasPrefix(org, "http://sfemu:"), "%s: SF_ORG_URL %q is the sfemu service", name, org)
			port := strings.TrimSuffix(strings.TrimPrefix(org, "http://sfemu:"), "/")
			assert.Contains(t, emu.Command, "-addr=0.0.0.0:"+port, "sfemu listens where %s looks for it", name)
		}
	})

	t.Run("kubernetes: the image, its port, probes, scrape, non-root, read-only, requests, service", func(t *testing.T) {
		require.NotNil(t, dep.Spec.Replicas)
		assert.Equal(t, 2, *dep.Spec.Replicas)
		assert.Empty(t, ctr.Command, "the container keeps the image's entrypoint (it sets the listen address)")
		composeImage := compose.Services[replicas[0]].Image
		assert.Equal(t, composeImage, ctr.Image, "the same image as compose")
		require.Len(t, ctr.Ports, 1)
		assert.Equal(t, img.port, strconv.Itoa(ctr.Ports[0].ContainerPort), "containerPort is the image's port")
		portName := ctr.Ports[0].Name
		for what, p := range map[string]*k8sProbe{"readiness": ctr.ReadinessProbe, "liveness": ctr.LivenessProbe} {
			require.NotNil(t, p, "a %s probe", what)
			require.NotNil(t, p.HTTPGet, "an HTTP %s probe", what)
			assert.Contains(t, []string{portName, img.port}, stringOf(p.HTTPGet.Port), "the %s probe's port", what)
		}
		assert.Equal(t, "/ready", ctr.ReadinessProbe.HTTPGet.Path)
		assert.Equal(t, "/ping", ctr.LivenessProbe.HTTPGet.Path)
		ann := dep.Spec.Template.Metadata.Annotations
		assert.Equal(t, "true", ann["prometheus.io/scrape"])
		assert.Equal(t, img.port, ann["prometheus.io/port"])
		assert.Equal(t, "/metrics", ann["prometheus.io/path"])
		sc := dep.Spec.Template.Spec.SecurityContext
		require.NotNil(t, sc.RunAsNonRoot)
		assert.True(t, *sc.RunAsNonRoot)
		require.NotNil(t, sc.RunAsUser)
		assert.NotZero(t, *sc.RunAsUser)
		require.NotNil(t, ctr.SecurityContext.ReadOnlyRootFilesystem)
		assert.True(t, *ctr.SecurityContext.ReadOnlyRootFilesystem)
		require.NotNil(t, ctr.SecurityContext.AllowPrivilegeEscalation)
		assert.False(t, *ctr.SecurityContext.AllowPrivilegeEscalation)
		assert.NotEmpty(t, ctr.Resources.Requests["cpu"])
		assert.NotEmpty(t, ctr.Resources.Requests["memory"])
		services := findK8s(objs, "Service")
		require.Len(t, services, 1)
		require.Len(t, services[0].Spec.Ports, 1)
		assert.Contains(t, []string{portName, img.port}, stringOf(services[0].Spec.Ports[0].TargetPort), "the Service targets the container's port")
	})

	// env is what a deployment sets: its own variables and the image's ENV.
	t.Run("every environment variable a pipeline reads is set", func(t *testing.T) {
		check := func(t *testing.T, who string, args []string, set map[string]bool) {
			files := pipelineFiles(args)
			require.NotEmpty(t, files, "%s runs -r/-c files", who)
			for k := range img.env {
				set[k] = true
			}
			for _, f := range files {
				for _, name := range envRead(t, img.repoFile(t, root, f)) {
					assert.True(t, set[name], "%s: %s reads ${%s}, which is not set", who, f, name)
				}
			}
		}
		for _, name := range replicas {
			s := compose.Services[name]
			set := map[string]bool{}
			for k := range s.Environment {
				set[k] = true
			}
			check(t, "compose "+name, s.Command, set)
		}

		// Kubernetes: each variable is set, from a key that exists.
		keys := map[string]map[string]string{}
		for _, o := range objs {
			switch o.Kind {
			case "Secret":
				keys["Secret/"+o.Metadata.Name] = o.StringData
			case "ConfigMap":
				keys["ConfigMap/"+o.Metadata.Name] = o.Data
			}
		}
		set := map[string]bool{}
		for _, e := range ctr.Env {
			switch {
			case e.ValueFrom == nil:
				set[e.Name] = e.Value != ""
			case e.ValueFrom.SecretKeyRef != nil:
				_, ok := keys["Secret/"+e.ValueFrom.SecretKeyRef.Name][e.ValueFrom.SecretKeyRef.Key]
				assert.True(t, ok, "%s comes from a key of a Secret of the manifests", e.Name)
				set[e.Name] = ok
			case e.ValueFrom.ConfigMapKeyRef != nil:
				_, ok := keys["ConfigMap/"+e.ValueFrom.ConfigMapKeyRef.Name][e.ValueFrom.ConfigMapKeyRef.Key]
				assert.True(t, ok, "%s comes from a key of a ConfigMap of the manifests", e.Name)
				set[e.Name] = ok
			}
		}
		check(t, "kubernetes", ctr.Args, set)

		// The private key file is in the Secret mounted where the pipeline reads it.
		var keyFile string
		for _, e := range ctr.Env {
			if e.Name == "SF_PRIVATE_KEY_FILE" {
				keyFile = e.Value
			}
		}
		require.NotEmpty(t, keyFile, "SF_PRIVATE_KEY_FILE is a path")
		found := false
		for _, m := range ctr.VolumeMounts {
			for _, v := range dep.Spec.Template.Spec.Volumes {
				if v.Name != m.Name || v.Secret == nil {
					continue
				}
				for _, it := range v.Secret.Items {
					if path.Join(m.MountPath, it.Path) == keyFile {
						_, ok := keys["Secret/"+v.Secret.SecretName][it.Key]
						assert.True(t, ok, "the Secret %s has the key %s", v.Secret.SecretName, it.Key)
						assert.True(t, m.ReadOnly, "the key is mounted read-only")
						found = true
					}
				}
			}
		}
		assert.True(t, found, "%s is a file of a mounted Secret", keyFile)
	})

	// The running part: bin/benthos with the deployments' pipeline, against
	// the emulator and the real servers, on a loopback address in place of
	// the image's 0.0.0.0. Next to it runs the shipped mirror pipeline
	// (config/cdc_mirror_postgres.yaml, the same store): the deployments'
	// pipeline has no snapshot and no gap fetching, whose metrics the
	// dashboard shows too.
	t.Run("probe paths answer and every dashboard metric is exported by a running bin/benthos", func(t *testing.T) {
		keyFile := filepath.Join(t.TempDir(), "salesforce.key")
		e := newEnv(t, harness.EmulatorConfig{Args: []string{"-jwt-key-out", keyFile,
			"-records", "Account=" + strconv.Itoa(deploySnapshotAccounts), "-records", "Contact=" + strconv.Itoa(deploySnapshotContacts)}})
		pg := startPostgres(t, e)
		rd := startRedis(t, e)
		env := map[string]string{}
		svc := compose.Services[replicas[0]]
		for k, v := range svc.Environment {
			env[k] = v
		}
		env["SF_ORG_URL"] = e.emu.URL
		env["SF_PRIVATE_KEY_FILE"] = keyFile
		env["POSTGRES_DSN"] = pg.DSN
		env["REDIS_URL"] = rd.URL
		var envList []string
		for k, v := range env {
			envList = append(envList, k+"="+v)
		}
		bin, err := harness.Binary(harness.BenthosBinary)
		require.NoError(t, err)

		// start runs the image's entrypoint with command appended, its files
		// from the repository, its HTTP server on a free loopback address.
		start := func(name string, command []string) (*harness.Process, string) {
			addr, err := harness.FreeAddr()
			require.NoError(t, err)
			args := slices.Clone(img.entrypoint[1:])
			for i, a := range args {
				if strings.HasPrefix(a, "http.address=") {
					args[i] = "http.address=" + addr
				}
			}
			for i, a := range command {
				if i > 0 && (command[i-1] == "-r" || command[i-1] == "-c") {
					a = img.repoFile(t, root, a)
				}
				args = append(args, a)
			}
			proc, err := harness.StartProcess(harness.ProcessConfig{Name: name, Path: bin, Args: args, Dir: e.dir, Env: envList})
			require.NoError(t, err)
			e.cleanupProcess(proc)
			return proc, addr
		}
		// The replica's command, and the same with the mirror's config.
		proc, addr := start("deploy", svc.Command)
		mirrorCommand := slices.Clone(svc.Command)
		i := slices.Index(mirrorCommand, "-c")
		require.GreaterOrEqual(t, i, 0, "the replica's command names its config with -c")
		require.Less(t, i+1, len(mirrorCommand))
		mirrorCommand[i+1] = path.Join(path.Dir(mirrorCommand[i+1]), "cdc_mirror_postgres.yaml")
		mirror, mirrorAddr := start("mirror", mirrorCommand)

		const channel = "/data/AccountChangeEvent"
		_, err = e.emu.PublishIDs(e.ctx, channel, 20, 1)
		require.NoError(t, err)
		e.stateWait(channel+" subscribed", func(st harness.State) bool { return st.Subscribed(channel) })

		get := func(p string) int {
			resp, err := http.Get("http://" + addr + p)
			if err != nil {
				return 0
			}
			defer resp.Body.Close()
			return resp.StatusCode
		}
		for _, p := range []string{ctr.ReadinessProbe.HTTPGet.Path, ctr.LivenessProbe.HTTPGet.Path} {
			require.Eventually(t, func() bool { return get(p) == http.StatusOK }, deliverWait, 200*time.Millisecond,
				"GET %s answers 200 on the running pipeline", p)
		}
		assert.Equal(t, http.StatusOK, get(dep.Spec.Template.Metadata.Annotations["prometheus.io/path"]), "the scrape path")

		// exporters returns which of the two processes export each metric.
		urls := map[string]string{"deploy": "http://" + addr + "/metrics", "mirror": "http://" + mirrorAddr + "/metrics"}
		exporters := func() map[string][]string {
			out := map[string][]string{}
			for _, who := range slices.Sorted(maps.Keys(urls)) {
				samples := scrapeMetrics(t, e.ctx, urls[who])
				for name := range samples {
					out[name] = append(out[name], who)
				}
			}
			return out
		}
		waitExported := func(what, name string) {
			deadline := time.Now().Add(deliverWait)
			for time.Now().Before(deadline) && e.ctx.Err() == nil {
				if exported(exporters(), name) {
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
			require.Failf(t, "not exported", "%s: %s within %v\ndeploy:\n%s\nmirror:\n%s", what, name, deliverWait,
				proc.Tail(logTailLines), mirror.Tail(logTailLines))
		}

		// Counters are exported once they count: a server-side disconnect
		// makes the clients reconnect, revoked tokens make them refresh their
		// token; gap events of records are resolved by the mirror once its
		// snapshot is acknowledged.
		for _, f := range []string{"server_disconnect", "revoke_tokens"} {
			require.NoError(t, e.emu.Fault(e.ctx, harness.FaultRequest{Fault: f}))
		}
		_, err = e.emu.Mutate(e.ctx, "Account", 3, "gap")
		require.NoError(t, err)
		waitExported("the mirror resolves gap events after its snapshot", "salesforce_streaming_gap_fetches")

		// Then the store refuses writes (Redis over its memory limit answers
		// OOM to SET) while events arrive: the checkpoint writes fail.
		_, err = rd.Do(e.ctx, "CONFIG", "SET", "maxmemory", "1")
		require.NoError(t, err)
		restored := false
		restore := func() {
			if !restored {
				restored = true
				_, err := rd.Do(e.ctx, "CONFIG", "SET", "maxmemory", "0")
				assert.NoError(t, err, "redis accepts writes again")
			}
		}
		defer restore()
		_, err = e.emu.PublishIDs(e.ctx, channel, 5, 1)
		require.NoError(t, err)
		waitExported("checkpoint writes to a store that refuses them", "salesforce_streaming_checkpoint_errors")
		restore()

		want := dashboardMetrics(t, filepath.Join(deploy, "grafana"))
		var missing []string
		var by map[string][]string
		deadline := time.Now().Add(deliverWait)
		for {
			by = exporters()
			missing = missing[:0]
			for name := range want {
				if !exported(by, name) {
					missing = append(missing, name)
				}
			}
			if len(missing) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		sort.Strings(missing)
		for _, name := range missing {
			assert.Fail(t, "a dashboard queries a metric bin/benthos does not export", "%s (%v)", name, want[name])
		}
		for _, name := range slices.Sorted(maps.Keys(want)) {
			t.Logf("%s: exported by %v", name, by[name])
		}
		e.stop(proc)
		e.stop(mirror)
	})
}
