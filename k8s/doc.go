// Package k8s holds the Kubernetes manifests of sipbus (kustomize base and
// overlays, see README.md) and the test that validates them without a
// cluster: every overlay is rendered with the kustomize API and every
// object decoded strictly into the k8s.io/api types; each sipbus
// container's environment must name settings its service reads (the env
// tags of the service's Config), its probes must hit paths the sipbus HTTP
// mux serves, and images, commands, ports, ConfigMaps and Secrets must
// line up.
//
// apiserver_test.go (build tag apiserver, `make k8s-apiserver-test`)
// applies both overlays with server-side dry-run to a real kube-apiserver
// and etcd on loopback; its header comment lists the choices it makes.
package k8s
