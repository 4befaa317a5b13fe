// Command helm-template renders a Helm chart to Kubernetes manifests the way
// `helm template` does, with Helm's own library (chart loader, values
// coalescing, values.schema.json validation, template engine with sprig), so
// nexo's tests can render deploy/helm/nexo-bot without a helm binary.
//
// Usage:
//
//	helm-template [-name RELEASE] [-namespace NS] [-f values.yaml]... [-set k=v]... CHART_DIR
//
// It prints the manifests as a multi-document YAML stream (templates in
// file-name order, NOTES.txt and partials left out) and exits 1 with Helm's
// error when the values fail the schema or a template calls fail.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "helm-template:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("helm-template", flag.ContinueOnError)
	name := fs.String("name", "nexo-bot", "release name")
	namespace := fs.String("namespace", "nexo-system", "release namespace")
	var files, sets multiFlag
	fs.Var(&files, "f", "values file (repeatable, later files win)")
	fs.Var(&sets, "set", "key=value override, Helm --set syntax (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one chart directory, got %d arguments", fs.NArg())
	}
	manifests, err := Render(fs.Arg(0), *name, *namespace, files, sets)
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, manifests)
	return err
}

// Render loads the chart in dir, merges the values files and --set
// overrides over its values.yaml, validates them against values.schema.json
// and renders the templates.
func Render(dir, release, namespace string, valueFiles, sets []string) (string, error) {
	return render(dir, release, namespace, valueFiles, sets, false)
}

func render(dir, release, namespace string, valueFiles, sets []string, skipSchema bool) (string, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return "", fmt.Errorf("load chart: %w", err)
	}
	vals := map[string]any{}
	for _, f := range valueFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		cur := map[string]any{}
		if err := yaml.Unmarshal(b, &cur); err != nil {
			return "", fmt.Errorf("values %s: %w", f, err)
		}
		vals = mergeMaps(vals, cur)
	}
	for _, s := range sets {
		if err := strvals.ParseInto(s, vals); err != nil {
			return "", fmt.Errorf("--set %s: %w", s, err)
		}
	}
	opts := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	renderVals, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, opts, chartutil.DefaultCapabilities, skipSchema)
	if err != nil {
		return "", err
	}
	rendered, err := engine.Render(chrt, renderVals)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") || strings.HasSuffix(base, "NOTES.txt") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		body := strings.TrimSpace(rendered[n])
		if body == "" {
			continue
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", n, body)
	}
	return b.String(), nil
}

// mergeMaps merges src into dst; maps merge deeply, other values from src win.
func mergeMaps(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeMaps(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}
