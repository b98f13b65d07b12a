package e2e

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
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

// deploy/ is checked without a container engine: what the files say is
// compared with the Dockerfile and the shipped configs, and what they rely on
// (probe paths, the metrics of the dashboard) with a running bin/benthos.

// imageFacts is what the repository's Dockerfile says of the runtime image.
type imageFacts struct {
	port       string            // the one EXPOSEd port
	entrypoint []string          // exec form
	env        map[string]string // ENV of the runtime stage
	copies     map[string]string // image folder -> repository folder (COPY --from=build /src/X/ /Y/)
}

// readImage reads the last stage of the repository's Dockerfile.
func readImage(t *testing.T, root string) imageFacts {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	text := string(b)
	last := strings.LastIndex(text, "\nFROM ")
	require.Positive(t, last, "a multi-stage Dockerfile")
	img := imageFacts{env: map[string]string{}, copies: map[string]string{}}
	var workdir string
	for _, line := range strings.Split(text[:last], "\n") {
		if rest, ok := strings.CutPrefix(line, "WORKDIR "); ok {
			workdir = strings.TrimSpace(rest)
		}
	}
	for _, line := range strings.Split(text[last+1:], "\n") {
		cmd, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch cmd {
		case "EXPOSE":
			require.Empty(t, img.port, "one EXPOSE")
			img.port = strings.TrimSuffix(strings.TrimSpace(rest), "/tcp")
		case "ENTRYPOINT":
			require.NoError(t, json.Unmarshal([]byte(rest), &img.entrypoint), "ENTRYPOINT in exec form: %s", rest)
		case "ENV":
			k, v, _ := strings.Cut(strings.TrimSpace(rest), "=")
			img.env[k] = v
		case "COPY":
			f := strings.Fields(rest)
			if len(f) >= 3 && f[0] == "--from=build" {
				if src, ok := strings.CutPrefix(f[1], workdir+"/"); ok {
					img.copies[strings.TrimSuffix(f[2], "/")] = strings.TrimSuffix(src, "/")
				}
			}
		}
	}
	require.NotEmpty(t, img.port, "the Dockerfile EXPOSEs the API's port")
	require.NotEmpty(t, img.entrypoint, "the Dockerfile has an ENTRYPOINT")
	return img
}

// repoFile maps a file inside the image (/config/x.yaml) to the repository's.
func (img imageFacts) repoFile(t *testing.T, root, inImage string) string {
	t.Helper()
	dir, file := path.Split(inImage)
	src, ok := img.copies[strings.TrimSuffix(dir, "/")]
	require.True(t, ok, "%s is in a folder the image copies from the repository (%v)", inImage, img.copies)
	p := filepath.Join(root, src, file)
	require.FileExists(t, p, "%s in the image is %s in the repository", inImage, p)
	return p
}

// pipelineFiles returns the -r and -c files of benthos arguments.
func pipelineFiles(args []string) []string {
	var files []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-r" || args[i] == "-c" || args[i] == "--resources" || args[i] == "--config" {
			files = append(files, args[i+1])
		}
	}
	return files
}

// envReference is ${NAME} or ${NAME:default} of Benthos' config interpolation
// (not ${! ...}, a Bloblang interpolation).
var envReference = regexp.MustCompile(`\$\{([0-9A-Za-z_.]+)(?::[^}]*)?\}`)

// envRead returns the environment variables a config file reads, comments
// excepted.
func envRead(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range envReference.FindAllStringSubmatch(line, -1) {
			if !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
	}
	sort.Strings(names)
	return names
}

// composeFile is the part of deploy/compose/compose.yaml the test reads.
type composeFile struct {
	Services map[string]struct {
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Image       string            `yaml:"image"`
		Entrypoint  any               `yaml:"entrypoint"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
	} `yaml:"services"`
}

// k8sObject is the part of a Kubernetes manifest the test reads.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Ports    []struct {
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
			Name       string `yaml:"name"`
		} `yaml:"ports"`
		Template struct {
			Metadata struct {
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
					RunAsUser    *int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name   string `yaml:"name"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
						Items      []struct {
							Key  string `yaml:"key"`
							Path string `yaml:"path"`
						} `yaml:"items"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef    *k8sKeyRef `yaml:"secretKeyRef"`
			ConfigMapKeyRef *k8sKeyRef `yaml:"configMapKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
}

type k8sKeyRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

// readK8s decodes every document of every manifest in dir.
func readK8s(t *testing.T, dir string) []k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	var objs []k8sObject
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		for {
			var o k8sObject
			if err := dec.Decode(&o); err != nil {
				require.ErrorContains(t, err, "EOF", "%s", f)
				break
			}
			objs = append(objs, o)
		}
	}
	return objs
}

func findK8s(objs []k8sObject, kind string) []k8sObject {
	var out []k8sObject
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

var (
	promString     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers   = regexp.MustCompile(`\{[^}]*\}`)
	promRange      = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promOffset     = regexp.MustCompile(`\boffset\s+\S+`)
	promNumber     = regexp.MustCompile(`(^|[^a-zA-Z0-9_:])[0-9][0-9a-zA-Z_.]*`)
	promIdentifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
	labelValues    = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	promKeywords   = map[string]bool{"bool": true, "and": true, "or": true, "unless": true}
)

// promqlMetrics returns the metric names a PromQL expression selects: what
// is left once strings, label matchers, ranges, groupings, function and
// aggregation names, keywords and numbers are taken out.
func promqlMetrics(expr string) []string {
	expr = promString.ReplaceAllString(expr, " ")
	expr = promMatchers.ReplaceAllString(expr, " ")
	expr = promRange.ReplaceAllString(expr, " ")
	expr = promGrouping.ReplaceAllString(expr, " ")
	expr = promOffset.ReplaceAllString(expr, " ")
	expr = promNumber.ReplaceAllString(expr, "$1 ")
	var names []string
	for _, tok := range promIdentifier.FindAllString(expr, -1) {
		if strings.HasSuffix(tok, "(") {
			continue // a function or an aggregation
		}
		tok = strings.TrimSpace(tok)
		if promKeywords[tok] || slices.Contains(names, tok) {
			continue
		}
		names = append(names, tok)
	}
	return names
}

func TestPromqlMetrics(t *testing.T) {
	cases := map[string][]string{
		`sum by (channel) (rate(salesforce_streaming_events_received{job=~"$job"}[$__rate_interval]))`: {"salesforce_streaming_events_received"},
		`max by (instance, channel) (salesforce_streaming_checkpoint_lag)`:                             {"salesforce_streaming_checkpoint_lag"},
		`sum(rate(output_sent[5m])) / sum(rate(input_received{label="x"}[5m])) > bool 0.5`:             {"output_sent", "input_received"},
		`histogram_quantile(0.99, sum without (path) (rate(output_latency_ns_bucket[1m])))`:            {"output_latency_ns_bucket"},
		`time() - foo_seconds offset 5m`: {"foo_seconds"},
	}
	for expr, want := range cases {
		assert.Equal(t, want, promqlMetrics(expr), "%s", expr)
	}
}

// dashboardMetrics returns every metric the dashboards in dir query, with
// the panel (or variable) that names it.
func dashboardMetrics(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "a dashboard in %s", dir)
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var d dashboard
		require.NoError(t, json.Unmarshal(b, &d), "%s", f)
		require.NotEmpty(t, d.Panels, "%s has panels", f)
		for _, p := range d.Panels {
			require.NotEmpty(t, p.Targets, "panel %q has queries", p.Title)
			for _, tg := range p.Targets {
				names := promqlMetrics(tg.Expr)
				require.NotEmpty(t, names, "panel %q: the query %q names a metric", p.Title, tg.Expr)
				for _, n := range names {
					out[n] = append(out[n], "panel "+p.Title)
				}
			}
		}
		for _, v := range d.Templating.List {
			if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
				out[m[1]] = append(out[m[1]], "variable "+v.Name)
			}
		}
	}
	return out
}

// TestDeploy checks deploy/ against the Dockerfile, the shipped configs and
// a running bin/benthos.
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

	t.Run("compose: sfemu, two benthos replicas of the image, redis, postgres", func(t *testing.T) {
		require.Len(t, replicas, 2, "two services built from the repository's Dockerfile")
		for _, svc := range []string{"sfemu", "redis", "postgres"} {
			assert.Contains(t, compose.Services, svc)
		}
		emu := compose.Services["sfemu"]
		require.NotNil(t, emu.Build, "sfemu is built from the repository")
		assert.FileExists(t, filepath.Join(deploy, "compose", emu.Build.Context, emu.Build.Dockerfile))
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
	// the image's 0.0.0.0.
	t.Run("probe paths answer and every dashboard metric is exported by a running bin/benthos", func(t *testing.T) {
		keyFile := filepath.Join(t.TempDir(), "salesforce.key")
		e := newEnv(t, harness.EmulatorConfig{Args: []string{"-jwt-key-out", keyFile}})
		pg := startPostgres(t, e)
		rd := startRedis(t, e)
		addr, err := harness.FreeAddr()
		require.NoError(t, err)

		// The replica's command, with its files from the repository and the
		// environment pointed at the servers of this test.
		svc := compose.Services[replicas[0]]
		args := slices.Clone(img.entrypoint[1:])
		for i, a := range args {
			if strings.HasPrefix(a, "http.address=") {
				args[i] = "http.address=" + addr
			}
		}
		for i, a := range svc.Command {
			if i > 0 && (svc.Command[i-1] == "-r" || svc.Command[i-1] == "-c") {
				a = img.repoFile(t, root, a)
			}
			args = append(args, a)
		}
		env := map[string]string{}
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
		proc, err := harness.StartProcess(harness.ProcessConfig{Name: "deploy", Path: bin, Args: args, Dir: e.dir, Env: envList})
		require.NoError(t, err)
		e.cleanupProcess(proc)

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

		// Counters are exported once they count: a server-side disconnect
		// makes the client reconnect, revoked tokens make it refresh its
		// token.
		for _, f := range []string{"server_disconnect", "revoke_tokens"} {
			require.NoError(t, e.emu.Fault(e.ctx, harness.FaultRequest{Fault: f}))
		}
		want := dashboardMetrics(t, filepath.Join(deploy, "grafana"))
		var missing []string
		deadline := time.Now().Add(deliverWait)
		for {
			samples := scrapeMetrics(t, e.ctx, "http://"+addr+"/metrics")
			missing = missing[:0]
			for name := range want {
				if !exported(samples, name) {
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
		t.Logf("dashboard metrics %v, not exported %v", slices.Sorted(maps.Keys(want)), missing)
		e.stop(proc)
	})
}

// exported reports whether the scrape has the metric: a sample of its name,
// or of its summary or histogram series.
func exported(samples map[string][]sample, name string) bool {
	for _, n := range []string{name, name + "_sum", name + "_count", name + "_bucket"} {
		if len(samples[n]) > 0 {
			return true
		}
	}
	return false
}

// stringOf renders a YAML scalar (a port name or number) as text.
func stringOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
