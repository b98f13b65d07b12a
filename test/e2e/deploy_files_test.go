package e2e

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The readers of deploy/'s files and of the Dockerfile, for TestDeploy.

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

// dockerArg returns the default of a global ARG of a Dockerfile.
func dockerArg(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^ARG ` + regexp.QuoteMeta(name) + `=(\S+)$`).FindSubmatch(b)
	require.NotNil(t, m, "%s: ARG %s=...", file, name)
	return string(m[1])
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
