package k8s

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// overlays are rendered and validated; each must list its secret files.
var overlays = []string{"dev", "prod"}

// secretFiles are what k8s/gen-secrets.sh writes into an overlay's
// secrets/ (never committed); the test supplies stand-ins in memory.
var secretFiles = []string{"auth-secret", "sl-secret", "flow-secret", "redis-password", "smtp-url", "web-session-key", "ctd-admin-token", "tls.crt", "tls.key"}

// tree copies base/ and overlays/ into an in-memory file system under
// /k8s (so tests can break a copy), with stand-in secret files.
func tree(t *testing.T) filesys.FileSystem {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	for _, dir := range []string{"base", "overlays"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "secrets" {
					return filepath.SkipDir
				}
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return mem.WriteFile("/k8s/"+filepath.ToSlash(path), b)
		})
		if err != nil {
			t.Fatalf("read k8s/%s: %v", dir, err)
		}
	}
	for _, o := range overlays {
		for _, f := range secretFiles {
			if err := mem.WriteFile("/k8s/overlays/"+o+"/secrets/"+f, []byte("stand-in-"+f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return mem
}

// edit replaces the first old in file (relative to /k8s) with new, failing
// when old is not there (so a broken-manifest case cannot pass vacuously).
func edit(t *testing.T, mem filesys.FileSystem, file, old, new string) {
	t.Helper()
	p := "/k8s/" + file
	b, err := mem.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := mem.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1))); err != nil {
		t.Fatal(err)
	}
}

// decoder decodes YAML strictly into the k8s.io/api types: an unknown or
// duplicate field is an error.
func decoder() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme,
		autoscalingv2.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Yaml: true, Strict: true})
}

// build runs kustomize on the overlay (what `kubectl apply -k` sends).
func build(mem filesys.FileSystem, overlay string) (resmap.ResMap, error) {
	return krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/k8s/overlays/"+overlay)
}

// render builds the overlay and decodes every object; errors name the
// object.
func render(mem filesys.FileSystem, overlay string) ([]runtime.Object, []error) {
	rm, err := build(mem, overlay)
	if err != nil {
		return nil, []error{err}
	}
	dec := decoder()
	var objs []runtime.Object
	var errs []error
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		obj, _, err := dec.Decode(y, nil, nil)
		if err != nil {
			errs = append(errs, errorf("%s %s: %v", r.GetKind(), r.GetName(), err))
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errs
}
