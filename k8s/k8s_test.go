package k8s

import (
	"context"
	"strings"
	"testing"

	"github.com/sipbus/sipbus/pkg/httpfront"
	"github.com/sipbus/sipbus/pkg/obs"
)

// sipbusMux is the HTTP mux every sipbus process serves: httpfront's
// (/healthz) with obs mounted (/readyz, /metrics).
func sipbusMux(t *testing.T) func(string) bool {
	t.Helper()
	s, err := httpfront.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	obs.Mount(s.Mux, &obs.Health{}, obs.NewMetrics("k8s-test"))
	return servedBy(s.Mux)
}

func TestOverlays(t *testing.T) {
	served := sipbusMux(t)
	mem := tree(t)
	for _, o := range overlays {
		t.Run(o, func(t *testing.T) {
			objs, errs := render(mem, o)
			for _, err := range append(errs, validate(objs, served)...) {
				t.Error(err)
			}
			if len(objs) < 20 {
				t.Errorf("rendered %d objects, want the whole deployment (20 or more)", len(objs))
			}
		})
	}
}

// TestProdShape checks what the prod overlay promises beyond dev.
func TestProdShape(t *testing.T) {
	objs, errs := render(tree(t), "prod")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	o := index(objs)
	for _, w := range o.workloads {
		if w.name == "nats" || w.name == "redis" || w.name == "redis-sentinel" {
			continue
		}
		if n := len(w.tmpl.Spec.TopologySpreadConstraints); n == 0 {
			t.Errorf("%s %s: not spread over nodes", w.kind, w.name)
		}
	}
	want := map[string]bool{"edge": true, "tm": true, "registrar": true, "notifier": true, "ctd": true, "web": true, "nats": true, "redis": true, "redis-sentinel": true}
	for _, p := range o.pdbs {
		delete(want, p.Name)
	}
	if len(want) > 0 {
		t.Errorf("no PodDisruptionBudget for %v", want)
	}
	for _, h := range o.hpas {
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
			t.Errorf("HorizontalPodAutoscaler %s: minReplicas below 2", h.Name)
		}
	}
	hpas := map[string]bool{}
	for _, h := range o.hpas {
		hpas[h.Spec.ScaleTargetRef.Name] = true
	}
	for _, n := range []string{"edge", "tm", "registrar", "notifier", "ctd", "web"} {
		if !hpas[n] {
			t.Errorf("no HorizontalPodAutoscaler for %s", n)
		}
	}
}

// TestBrokenManifests: each break of a valid manifest is caught, with a
// message naming it.
func TestBrokenManifests(t *testing.T) {
	served := sipbusMux(t)
	cases := []struct {
		name, file, old, new, want string
	}{
		{"unknown field", "base/tm.yaml", "      enableServiceLinks: false\n", "      enableServiceLinks: false\n      enableServiceLink: true\n", `unknown field "spec.template.spec.enableServiceLink"`},
		{"misspelt container field", "base/edge.yaml", "          readinessProbe:\n", "          readynessProbe:\n", "unknown field"},
		{"wrong env name", "base/edge.yaml", "name: SIPBUS_SL_SECRET", "name: SIPBUS_EDGE_SL_SECRET", "env SIPBUS_EDGE_SL_SECRET is not a setting edge reads"},
		{"env of another service", "base/registrar.yaml", "name: SIPBUS_DOMAINS", "name: SIPBUS_TM_ADVERTISE", "env SIPBUS_TM_ADVERTISE is not a setting registrar reads"},
		{"probe on an unserved path", "base/tm.yaml", "path: /readyz", "path: /ready", "path /ready is not served"},
		{"probe on another port", "base/notifier.yaml", "containerPort: 8080", "containerPort: 8081", "is not the -http port"},
		{"nats probe path", "base/nats.yaml", "path: /healthz?js-server-only=true", "path: /health?js-server-only=true", "not a nats-server monitoring endpoint"},
		{"missing secret key", "base/tm.yaml", "key: flow-secret", "key: flow_secret", "has no key flow_secret"},
		{"missing config key", "base/edge.yaml", "key: nats-url", "key: nats", "has no key nats"},
		{"command not in the image", "base/registrar.yaml", "/usr/local/bin/registrar", "/usr/local/bin/registrard", "not built by the Dockerfile"},
		{"service port not exposed", "base/edge.yaml", "targetPort: sip-tls", "targetPort: sips", "targets sips/TCP"},
		{"service port protocol", "base/edge.yaml", "      targetPort: sip-udp\n      protocol: UDP", "      targetPort: sip-udp\n      protocol: TCP", "targets sip-udp/TCP"},
		{"undefined variable", "base/edge.yaml", "value: $(POD_IP):5060", "value: $(NODE_IP):5060", "uses $(NODE_IP)"},
		{"missing annotation", "base/kustomization.yaml", "  sipbus.io/advertise-tls:", "  sipbus.io/advertise-tsl:", "no annotation sipbus.io/advertise-tls"},
		{"unpinned image", "base/redis.yaml", "image: redis:7.4-alpine", "image: redis:latest", "pin a tag"},
		{"web: wrong env name", "base/web.yaml", "name: SIPBUS_WEB_SECRET", "name: SIPBUS_WEB_SESSION_KEY", "env SIPBUS_WEB_SESSION_KEY is not a setting web reads"},
		{"ctd: env of another service", "base/ctd.yaml", "name: SIPBUS_CTD_ADMIN_TOKEN", "name: SIPBUS_WEB_SECRET", "env SIPBUS_WEB_SECRET is not a setting ctd reads"},
		{"ctd: probe on an unserved path", "base/ctd.yaml", "path: /readyz", "path: /v1/ready", "path /v1/ready is not served"},
		{"web: missing secret key", "base/web.yaml", "key: session-key", "key: session_key", "has no key session_key"},
		{"ctd: command not in the image", "base/ctd.yaml", "/usr/local/bin/ctd", "/usr/local/bin/ctdd", "not built by the Dockerfile"},
		{"networkpolicy selects nothing", "base/networkpolicy.yaml", `values: ["web", "ctd"]`, `values: ["www", "ctdx"]`, "web-ctd-from-ingress"},
		{"pdb selects nothing", "overlays/prod/pdb.yaml", "app.kubernetes.io/name: notifier", "app.kubernetes.io/name: notifyer", "PodDisruptionBudget notifier"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := tree(t)
			edit(t, mem, c.file, c.old, c.new)
			found := false
			var all []string
			for _, o := range overlays {
				objs, errs := render(mem, o)
				for _, err := range append(errs, validate(objs, served)...) {
					all = append(all, err.Error())
					if strings.Contains(err.Error(), c.want) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("no error contains %q; got %d errors:\n%s", c.want, len(all), strings.Join(all, "\n"))
			}
		})
	}
}
