// Command controller measures `stashflow operator --engine=argo` against a
// real kube-apiserver and etcd (envtest, with stashflow's and Argo's CRDs):
// no workflow-controller runs, so Workflows are created and never run.
//
// For each setting of -settings (max-concurrent-reconciles:qps:burst) it
// starts the operator as a child process, watching a namespace of its own,
// and measures:
//
//   - latency: -sessions BackupSessions created one at a time (each invoked
//     by its own paused BackupConfiguration, so none is skipped as
//     concurrent), from the create call to the Workflow appearing in the
//     benchmark's informer;
//
//   - burst: -configs BackupConfigurations whose 6-field cron schedule names
//     one second, from that slot until all their Workflows exist;
//
//   - memory: more BackupSessions, spread over those configurations, up to
//     -total-sessions in the namespace (each configuration has one session
//     running, so the rest are Skipped and kept by backupHistoryLimit); the
//     operator's VmHWM after each phase and its rusage maxrss at exit.
//
//     go run ./bench/controller [-configs 1000] [-sessions 200] [-total-sessions 10000] [-settings 4:50:100,8:100:200,16:200:400]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stashflow/stashflow/internal/testenv"
)

type setting struct {
	mcr   int
	qps   float64
	burst int
}

func (s setting) String() string { return fmt.Sprintf("%d:%g:%d", s.mcr, s.qps, s.burst) }

func parseSettings(v string) ([]setting, error) {
	var out []setting
	for _, f := range strings.Split(v, ",") {
		p := strings.Split(strings.TrimSpace(f), ":")
		if len(p) != 3 {
			return nil, fmt.Errorf("-settings %q: want mcr:qps:burst", f)
		}
		mcr, err1 := strconv.Atoi(p[0])
		qps, err2 := strconv.ParseFloat(p[1], 64)
		burst, err3 := strconv.Atoi(p[2])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("-settings %q: want integers mcr:qps:burst", f)
		}
		out = append(out, setting{mcr, qps, burst})
	}
	return out, nil
}

type options struct {
	configs, sessions, total int
	gap                      time.Duration
	binary, workDir          string
	timeout                  time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.configs, "configs", 1000, "scheduled BackupConfigurations firing in one slot (burst)")
	flag.IntVar(&o.sessions, "sessions", 200, "BackupSessions created one at a time (latency)")
	flag.IntVar(&o.total, "total-sessions", 10000, "BackupSessions in the namespace for the memory phase (0: none added)")
	flag.DurationVar(&o.gap, "gap", 20*time.Millisecond, "pause between two latency sessions")
	settings := flag.String("settings", "4:50:100,8:100:200,16:200:400", "operator settings to compare, max-concurrent-reconciles:kube-api-qps:kube-api-burst, comma-separated")
	flag.StringVar(&o.binary, "operator", "", "stashflow binary (default: go build ./cmd/stashflow)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit of each waiting phase")
	flag.Parse()
	ss, err := parseSettings(*settings)
	if err == nil {
		err = run(o, ss)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		os.Exit(1)
	}
}

func run(o options, ss []setting) error {
	var err error
	if o.workDir, err = os.MkdirTemp("", "stashflow-bench-controller-"); err != nil {
		return err
	}
	fmt.Printf("work dir %s (operator logs)\n", o.workDir)
	if o.binary == "" {
		o.binary = filepath.Join(o.workDir, "stashflow")
		fmt.Println("building ./cmd/stashflow ...")
		if err := goBuild(o.binary); err != nil {
			return err
		}
	}
	crds, err := argoCRDs()
	if err != nil {
		return err
	}
	env, err := testenv.Start(testenv.WithCRDPaths(crds))
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	kubeconfig := filepath.Join(o.workDir, "kubeconfig")
	if err := writeKubeconfig(env.Config, kubeconfig); err != nil {
		return err
	}
	var results []result
	for i, s := range ss {
		fmt.Printf("\n== setting %s (max-concurrent-reconciles:kube-api-qps:kube-api-burst)\n", s)
		r, err := runSetting(context.Background(), env, kubeconfig, o, s, fmt.Sprintf("bench-%d", i))
		if err != nil {
			return fmt.Errorf("setting %s: %w", s, err)
		}
		results = append(results, r)
	}
	printTable(o, results)
	return nil
}

func printTable(o options, rs []result) {
	fmt.Printf("\ncontroller benchmark: engine=argo, %d configs, %d latency sessions, %d sessions in total (GOMAXPROCS host: %d cores)\n",
		o.configs, o.sessions, o.total, numCPU())
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "mcr\tqps/burst\tlat p50\tp90\tp99\tmax\tburst first\tburst all\tsessions\tworkflows\tHWM lat\tHWM burst\tHWM mem\tmaxrss\tcpu\t")
	for _, r := range rs {
		fmt.Fprintf(w, "%d\t%g/%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n",
			r.s.mcr, r.s.qps, r.s.burst,
			ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max),
			sec(r.burstFirst), sec(r.burstAll), r.sessions, r.workflows,
			mib(r.hwmLatency), mib(r.hwmBurst), mib(r.hwmMemory), mib(r.maxRSS), sec(r.cpu))
	}
	_ = w.Flush()
	fmt.Println("goals: latency p99 <= 200 ms; burst all <= 30 s; maxrss <= 300 MiB at 1000 configs + 10,000 sessions")
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
}

func sec(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func mib(kib int64) string { return fmt.Sprintf("%.0fMiB", float64(kib)/1024) }
