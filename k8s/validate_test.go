package k8s

import (
	"fmt"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sipbus/sipbus/pkg/service"
	"github.com/sipbus/sipbus/services/ctd"
	"github.com/sipbus/sipbus/services/edge"
	"github.com/sipbus/sipbus/services/notifier"
	"github.com/sipbus/sipbus/services/registrar"
	"github.com/sipbus/sipbus/services/tm"
	"github.com/sipbus/sipbus/services/web"
)

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

// serviceEnv maps each command the image holds to the variables it
// reads: the settings of its service.Spec (pkg/service: SIPBUS_<NAME>_*
// and the shared ones).
var serviceEnv = map[string]map[string]bool{
	"edge":      specEnv(edge.Spec),
	"tm":        specEnv(tm.Spec),
	"registrar": specEnv(registrar.Spec),
	"notifier":  specEnv(notifier.Spec),
	"ctd":       specEnv(ctd.Spec),
	"web":       specEnv(web.Spec),
}

// specEnv is the set of variables spec's service reads.
func specEnv[C any](spec service.Spec[C]) map[string]bool {
	_, env := service.Names(spec)
	return env
}

// runtimeEnv are read by the Go runtime of every process, not by a
// service's Config.
var runtimeEnv = []string{"GOMEMLIMIT", "GOGC", "GOMAXPROCS"}

// sipbusImage is the image every sipbus container runs (the overlays'
// images: entry renames the base's "sipbus").
const sipbusImage = "ghcr.io/sipbus/sipbus"

// dockerfileCommands are the binaries the Dockerfile builds into
// /usr/local/bin (its `-o /out/<name>` outputs).
func dockerfileCommands() (map[string]bool, error) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`-o /out/([a-z]+) `).FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	if !strings.Contains(string(b), "COPY --from=build /out/ /usr/local/bin/") {
		return nil, errorf("Dockerfile: the binaries are no longer copied to /usr/local/bin")
	}
	return out, nil
}

// natsPaths are the monitoring endpoints nats-server serves (port 8222).
var natsPaths = []string{"/healthz", "/varz", "/connz", "/routez", "/subsz", "/jsz"}

// workload is a Deployment's or StatefulSet's pod template.
type workload struct {
	kind, name string
	selector   map[string]string
	tmpl       corev1.PodTemplateSpec
	claims     []string // StatefulSet volumeClaimTemplates
}

// objects indexes one rendered overlay.
type objects struct {
	configMaps map[string]map[string]bool
	secrets    map[string]map[string]bool
	services   []*corev1.Service
	workloads  []workload
	pdbs       []*policyv1.PodDisruptionBudget
	hpas       []*autoscalingv2.HorizontalPodAutoscaler
	policies   []*networkingv1.NetworkPolicy
}

func index(objs []runtime.Object) objects {
	o := objects{configMaps: map[string]map[string]bool{}, secrets: map[string]map[string]bool{}}
	keys := func(m ...any) map[string]bool {
		out := map[string]bool{}
		for _, x := range m {
			for _, k := range reflect.ValueOf(x).MapKeys() {
				out[k.String()] = true
			}
		}
		return out
	}
	for _, obj := range objs {
		switch x := obj.(type) {
		case *corev1.ConfigMap:
			o.configMaps[x.Name] = keys(x.Data, x.BinaryData)
		case *corev1.Secret:
			o.secrets[x.Name] = keys(x.Data, x.StringData)
		case *corev1.Service:
			o.services = append(o.services, x)
		case *appsv1.Deployment:
			o.workloads = append(o.workloads, workload{"Deployment", x.Name, x.Spec.Selector.MatchLabels, x.Spec.Template, nil})
		case *appsv1.StatefulSet:
			var claims []string
			for _, c := range x.Spec.VolumeClaimTemplates {
				claims = append(claims, c.Name)
			}
			o.workloads = append(o.workloads, workload{"StatefulSet", x.Name, x.Spec.Selector.MatchLabels, x.Spec.Template, claims})
		case *policyv1.PodDisruptionBudget:
			o.pdbs = append(o.pdbs, x)
		case *autoscalingv2.HorizontalPodAutoscaler:
			o.hpas = append(o.hpas, x)
		case *networkingv1.NetworkPolicy:
			o.policies = append(o.policies, x)
		}
	}
	return o
}

// validate checks that the objects of one overlay line up; served answers
// whether the sipbus HTTP mux serves a GET path.
func validate(objs []runtime.Object, served func(path string) bool) []error {
	o := index(objs)
	cmds, err := dockerfileCommands()
	if err != nil {
		return []error{err}
	}
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, errorf(format, a...)) }
	for _, w := range o.workloads {
		where := w.kind + " " + w.name
		if len(w.selector) == 0 || !labels.SelectorFromSet(w.selector).Matches(labels.Set(w.tmpl.Labels)) {
			add("%s: selector %v does not match its pod template's labels %v", where, w.selector, w.tmpl.Labels)
		}
		errs = append(errs, o.checkPod(where, w, served, cmds)...)
	}
	errs = append(errs, o.checkServices()...)
	for _, p := range o.pdbs {
		if !o.selects(p.Spec.Selector.MatchLabels) {
			add("PodDisruptionBudget %s: selector %v matches no workload", p.Name, p.Spec.Selector.MatchLabels)
		}
	}
	for _, h := range o.hpas {
		if !slices.ContainsFunc(o.workloads, func(w workload) bool {
			return w.kind == h.Spec.ScaleTargetRef.Kind && w.name == h.Spec.ScaleTargetRef.Name
		}) {
			add("HorizontalPodAutoscaler %s: target %s %s does not exist", h.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
		}
	}
	for _, np := range o.policies {
		if len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) == 0 {
			continue // every pod
		}
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			add("NetworkPolicy %s: %v", np.Name, err)
			continue
		}
		if !slices.ContainsFunc(o.workloads, func(w workload) bool { return sel.Matches(labels.Set(w.tmpl.Labels)) }) {
			add("NetworkPolicy %s: podSelector matches no workload", np.Name)
		}
	}
	return errs
}

func (o objects) selects(sel map[string]string) bool {
	return len(sel) > 0 && slices.ContainsFunc(o.workloads, func(w workload) bool {
		return labels.SelectorFromSet(sel).Matches(labels.Set(w.tmpl.Labels))
	})
}

// checkServices: each Service selects a workload whose containers have
// every target port, with the same protocol; a StatefulSet's serviceName
// is a headless Service.
func (o objects) checkServices() []error {
	var errs []error
	for _, s := range o.services {
		var sel []workload
		for _, w := range o.workloads {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.tmpl.Labels)) {
				sel = append(sel, w)
			}
		}
		if len(sel) == 0 {
			errs = append(errs, errorf("Service %s: selector %v matches no workload", s.Name, s.Spec.Selector))
			continue
		}
		for _, p := range s.Spec.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			for _, w := range sel {
				if !hasPort(w.tmpl.Spec.Containers, p.TargetPort, proto) {
					errs = append(errs, errorf("Service %s: port %s targets %s/%s, which %s %s does not expose", s.Name, p.Name, p.TargetPort.String(), proto, w.kind, w.name))
				}
			}
		}
	}
	return errs
}

func hasPort(cs []corev1.Container, target intstr.IntOrString, proto corev1.Protocol) bool {
	for _, c := range cs {
		for _, cp := range c.Ports {
			pp := cp.Protocol
			if pp == "" {
				pp = corev1.ProtocolTCP
			}
			if pp != proto {
				continue
			}
			if (target.Type == intstr.String && cp.Name == target.StrVal) || (target.Type == intstr.Int && cp.ContainerPort == target.IntVal) {
				return true
			}
		}
	}
	return false
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

var annotationRef = regexp.MustCompile(`^metadata\.annotations\['([^']+)'\]$`)

// checkPod checks the containers of one pod template.
func (o objects) checkPod(where string, w workload, served func(string) bool, cmds map[string]bool) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, errorf(where+": "+format, a...)) }
	vols := map[string]bool{}
	for _, c := range w.claims {
		vols[c] = true
	}
	for _, v := range w.tmpl.Spec.Volumes {
		vols[v.Name] = true
		if v.ConfigMap != nil && o.configMaps[v.ConfigMap.Name] == nil {
			add("volume %s: ConfigMap %s does not exist", v.Name, v.ConfigMap.Name)
		}
		if v.Secret != nil && o.secrets[v.Secret.SecretName] == nil {
			add("volume %s: Secret %s does not exist", v.Name, v.Secret.SecretName)
		}
	}
	for _, c := range w.tmpl.Spec.Containers {
		cw := "container " + c.Name
		for _, m := range c.VolumeMounts {
			if !vols[m.Name] {
				add("%s: volumeMount %s names no volume", cw, m.Name)
			}
		}
		// Environment: references resolve, $(VAR) refers to an earlier variable.
		defined := map[string]bool{}
		referenced := map[string]bool{}
		for _, e := range c.Env {
			for _, m := range varRef.FindAllStringSubmatch(e.Value, -1) {
				referenced[m[1]] = true
				if !defined[m[1]] {
					add("%s: env %s uses $(%s), which is not defined before it", cw, e.Name, m[1])
				}
			}
			defined[e.Name] = true
			if vf := e.ValueFrom; vf != nil {
				switch {
				case vf.ConfigMapKeyRef != nil:
					if !o.configMaps[vf.ConfigMapKeyRef.Name][vf.ConfigMapKeyRef.Key] {
						add("%s: env %s: ConfigMap %s has no key %s", cw, e.Name, vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key)
					}
				case vf.SecretKeyRef != nil:
					if !o.secrets[vf.SecretKeyRef.Name][vf.SecretKeyRef.Key] {
						add("%s: env %s: Secret %s has no key %s", cw, e.Name, vf.SecretKeyRef.Name, vf.SecretKeyRef.Key)
					}
				case vf.FieldRef != nil:
					if m := annotationRef.FindStringSubmatch(vf.FieldRef.FieldPath); m != nil {
						if _, ok := w.tmpl.Annotations[m[1]]; !ok {
							add("%s: env %s: the pod template has no annotation %s", cw, e.Name, m[1])
						}
					}
				}
			}
		}
		for _, ef := range c.EnvFrom {
			add("%s: envFrom hides the variable names; name each variable", cw)
			_ = ef
		}
		for _, p := range probes(c) {
			if p.probe.HTTPGet == nil {
				continue
			}
			if p.probe.HTTPGet.Port.Type == intstr.String && !hasPort([]corev1.Container{c}, p.probe.HTTPGet.Port, corev1.ProtocolTCP) {
				add("%s: %s probe: port %s is not a port of the container", cw, p.kind, p.probe.HTTPGet.Port.StrVal)
			}
		}
		if !strings.HasPrefix(c.Image, sipbusImage+":") {
			errs = append(errs, checkThirdParty(where+": "+cw, c)...)
			continue
		}
		// A sipbus container.
		if len(c.Command) == 0 || !strings.HasPrefix(c.Command[0], "/usr/local/bin/") {
			add("%s: command %v: want /usr/local/bin/<service>", cw, c.Command)
			continue
		}
		bin := strings.TrimPrefix(c.Command[0], "/usr/local/bin/")
		if !cmds[bin] {
			add("%s: command %s is not built by the Dockerfile", cw, c.Command[0])
		}
		reads, ok := serviceEnv[bin]
		if !ok {
			add("%s: command %s: no service Config known for it", cw, bin)
			continue
		}
		for _, e := range c.Env {
			otel := strings.HasPrefix(e.Name, "OTEL_EXPORTER_OTLP_") // read by the exporter (obs.TracingFromEnv)
			if !reads[e.Name] && !slices.Contains(runtimeEnv, e.Name) && !referenced[e.Name] && !otel {
				add("%s: env %s is not a setting %s reads (its Config has no env tag %s)", cw, e.Name, bin, e.Name)
			}
		}
		httpPort := -1
		for i, a := range c.Command {
			if (a == "-http" || a == "--http") && i+1 < len(c.Command) {
				if _, p, ok := strings.Cut(c.Command[i+1], ":"); ok {
					httpPort, _ = strconv.Atoi(p)
				}
			}
		}
		for _, p := range probes(c) {
			g := p.probe.HTTPGet
			if g == nil {
				add("%s: %s probe: a sipbus container is probed over HTTP", cw, p.kind)
				continue
			}
			if !served(g.Path) {
				add("%s: %s probe: path %s is not served by the sipbus HTTP mux", cw, p.kind, g.Path)
			}
			port := portNumber(c, g.Port)
			if port != httpPort {
				add("%s: %s probe: port %s is not the -http port (%d)", cw, p.kind, g.Port.String(), httpPort)
			}
		}
	}
	return errs
}

type probe struct {
	kind  string
	probe *corev1.Probe
}

func probes(c corev1.Container) []probe {
	var out []probe
	for _, p := range []probe{{"startup", c.StartupProbe}, {"liveness", c.LivenessProbe}, {"readiness", c.ReadinessProbe}} {
		if p.probe != nil {
			out = append(out, p)
		}
	}
	return out
}

func portNumber(c corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return int(p.IntVal)
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return -1
}

// checkThirdParty: a pinned tag, and NATS probes on its monitor endpoints.
func checkThirdParty(where string, c corev1.Container) []error {
	var errs []error
	_, tag, ok := strings.Cut(c.Image, ":")
	if !ok || tag == "" || tag == "latest" {
		errs = append(errs, errorf("%s: image %s: pin a tag", where, c.Image))
	}
	if strings.HasPrefix(c.Image, "nats:") {
		for _, p := range probes(c) {
			if p.probe.HTTPGet == nil {
				continue
			}
			path, _, _ := strings.Cut(p.probe.HTTPGet.Path, "?")
			if !slices.Contains(natsPaths, path) {
				errs = append(errs, errorf("%s: %s probe: path %s is not a nats-server monitoring endpoint", where, p.kind, p.probe.HTTPGet.Path))
			}
		}
	}
	return errs
}

// servedBy answers whether h serves GET path (anything but 404 and 405).
func servedBy(h http.Handler) func(string) bool {
	return func(path string) bool {
		rec := &statusRecorder{header: http.Header{}}
		req, err := http.NewRequest(http.MethodGet, "http://sipbus"+path, nil)
		if err != nil {
			return false
		}
		h.ServeHTTP(rec, req)
		return rec.code != http.StatusNotFound && rec.code != http.StatusMethodNotAllowed
	}
}

type statusRecorder struct {
	header http.Header
	code   int
}

func (r *statusRecorder) Header() http.Header { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return len(b), nil
}
func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
