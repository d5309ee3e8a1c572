package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SwarmFile records that the driver initialised the engine's swarm, relative
// to the repository root: `make down` leaves only a swarm it made.
const SwarmFile = ".cache/swarm.json"

// Target is where an environment runs (the root module's target variable).
const (
	TargetDocker = "docker"
	TargetSwarm  = "swarm"
)

// Target reads the environment's target as Terraform resolves it (its
// tfvars, else the variable's default): the same var-files apply reads.
func (e *Env) Target(ctx context.Context) (string, error) {
	var target string
	if err := e.Console(ctx, "jsonencode(var.target)", &target); err != nil {
		return "", fmt.Errorf("reading %s's target: %w", e.Name, err)
	}
	return target, nil
}

// swarmNode is the engine's part in a swarm, as `docker info` tells it.
type swarmNode struct {
	State   string // LocalNodeState: inactive, pending, active, error, locked
	Manager bool   // ControlAvailable
	NodeID  string
}

func dockerSwarmNode(ctx context.Context) (swarmNode, error) {
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{json .Swarm}}").Output()
	if err != nil {
		return swarmNode{}, fmt.Errorf("docker info: %w", err)
	}
	var info struct {
		LocalNodeState   string
		ControlAvailable bool
		NodeID           string
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return swarmNode{}, fmt.Errorf("docker info .Swarm %q: %w", out, err)
	}
	return swarmNode{State: info.LocalNodeState, Manager: info.ControlAvailable, NodeID: info.NodeID}, nil
}

// swarmRecord is SwarmFile's content.
type swarmRecord struct {
	NodeID string    `json:"node_id"`
	For    string    `json:"initialised_for"`
	At     time.Time `json:"at"`
	// GWBridgeExisted: docker_gwbridge (the bridge `swarm init` creates for
	// the overlays' way out, which `swarm leave` keeps) was there before.
	GWBridgeExisted bool `json:"gwbridge_existed"`
}

// gwBridge is the bridge network Swarm creates on init and keeps on leave.
const gwBridge = "docker_gwbridge"

// swarmUp says what `make up` does about the swarm before applying an
// environment of target: nothing (docker, or a manager of an active swarm
// already), init (no swarm), or refuse (a swarm it cannot deploy to).
func swarmUp(target string, n swarmNode) (initialise bool, err error) {
	if target != TargetSwarm {
		return false, nil
	}
	switch n.State {
	case "inactive":
		return true, nil
	case "active":
		if !n.Manager {
			return false, errors.New("this engine is a swarm worker: services are created on a manager (point DOCKER_HOST at one)")
		}
		return false, nil
	default:
		return false, fmt.Errorf("the engine's swarm is %q: resolve it (docker info) before applying a swarm environment", n.State)
	}
}

// swarmDown says what `make down` does about the swarm once an environment
// is destroyed: leave it only when the driver initialised this very swarm
// (rec names this node) and nothing else lives in it (others: the services,
// networks, secrets and configs left); forget the record when the swarm it
// names is gone.
func swarmDown(rec *swarmRecord, n swarmNode, others []string) (leave, forget bool) {
	switch {
	case rec == nil:
		return false, false
	case n.State != "active" || n.NodeID != rec.NodeID:
		return false, true
	case len(others) > 0:
		return false, false
	}
	return true, true
}

func (r *Repo) readSwarmRecord() (*swarmRecord, error) {
	data, err := os.ReadFile(filepath.Join(r.Root, SwarmFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec swarmRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", SwarmFile, err)
	}
	return &rec, nil
}

// EnsureSwarm initialises a single-node swarm for an environment of target
// swarm when the engine is in none, and records it.
func (e *Env) EnsureSwarm(ctx context.Context) error {
	target, err := e.Target(ctx)
	if err != nil {
		return err
	}
	n, err := dockerSwarmNode(ctx)
	if err != nil {
		return err
	}
	initialise, err := swarmUp(target, n)
	if err != nil || !initialise {
		return err
	}
	gwExisted := exec.CommandContext(ctx, "docker", "network", "inspect", gwBridge).Run() == nil
	// The loopback address: a single node needs no reachable one, and
	// nothing listens beyond this host.
	fmt.Fprintf(e.repo.Stdout, "%s runs on a swarm and the engine is in none: docker swarm init --advertise-addr 127.0.0.1\n", e.Name)
	if out, err := exec.CommandContext(ctx, "docker", "swarm", "init", "--advertise-addr", "127.0.0.1").CombinedOutput(); err != nil {
		return fmt.Errorf("docker swarm init: %w\n%s", err, out)
	}
	if n, err = dockerSwarmNode(ctx); err != nil {
		return err
	}
	return writeJSON(filepath.Join(e.repo.Root, SwarmFile), swarmRecord{NodeID: n.NodeID, For: e.Name, At: time.Now().UTC(), GWBridgeExisted: gwExisted})
}

// ReleaseSwarm leaves the swarm after `make down` when the driver
// initialised it and nothing else uses it.
func (e *Env) ReleaseSwarm(ctx context.Context) error {
	rec, err := e.repo.readSwarmRecord()
	if err != nil || rec == nil {
		return err
	}
	n, err := dockerSwarmNode(ctx)
	if err != nil {
		return err
	}
	var others []string
	if n.State == "active" && n.Manager {
		if others, err = swarmObjects(ctx); err != nil {
			return err
		}
		// Leaving a swarm breaks Docker's DNS on the bridge networks that
		// exist then (Docker 20.10, measured: a name that resolved in
		// 0.07 s fails after 10 s until the network is recreated), so the
		// swarm stays while containers run on one, such as another
		// environment's.
		bridged, err := bridgeContainers(ctx)
		if err != nil {
			return err
		}
		others = append(others, bridged...)
	}
	leave, forget := swarmDown(rec, n, others)
	if leave {
		fmt.Fprintf(e.repo.Stdout, "leaving the swarm the driver initialised for %s (nothing else uses it)\n", rec.For)
		if out, err := exec.CommandContext(ctx, "docker", "swarm", "leave", "--force").CombinedOutput(); err != nil {
			return fmt.Errorf("docker swarm leave: %w\n%s", err, out)
		}
		// The engine as the driver found it: without the bridge init made.
		if !rec.GWBridgeExisted {
			if out, err := exec.CommandContext(ctx, "docker", "network", "rm", gwBridge).CombinedOutput(); err != nil {
				fmt.Fprintf(e.repo.Stderr, "could not remove %s, which swarm init created: %v\n%s", gwBridge, err, out)
			}
		}
	} else if len(others) > 0 {
		fmt.Fprintf(e.repo.Stdout, "the swarm stays (`docker swarm leave --force` once they are gone): it still holds, or leaving it would break name resolution for, %s\n", strings.Join(others, ", "))
	}
	if forget {
		return os.Remove(filepath.Join(e.repo.Root, SwarmFile))
	}
	return nil
}

// bridgeContainers lists the running containers on user-defined bridge
// networks, as container/name.
func bridgeContainers(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "docker", "network", "ls", "--filter", "driver=bridge", "--format", "{{.Name}}").Output()
	if err != nil {
		return nil, fmt.Errorf("docker network ls: %w", err)
	}
	var found []string
	for _, net := range strings.Fields(string(out)) {
		if net == "bridge" || net == gwBridge {
			continue
		}
		names, err := exec.CommandContext(ctx, "docker", "ps", "--filter", "network="+net, "--format", "{{.Names}}").Output()
		if err != nil {
			return nil, fmt.Errorf("docker ps: %w", err)
		}
		for _, name := range strings.Fields(string(names)) {
			if c := "container/" + name; !slices.Contains(found, c) {
				found = append(found, c)
			}
		}
	}
	return found, nil
}

// swarmObjects lists what the swarm holds besides its own ingress network:
// services, swarm-scoped networks, secrets and configs, as kind/name.
func swarmObjects(ctx context.Context) ([]string, error) {
	var found []string
	for _, kind := range [][]string{
		{"service", "ls"},
		{"network", "ls", "--filter", "scope=swarm"},
		{"secret", "ls"},
		{"config", "ls"},
	} {
		out, err := exec.CommandContext(ctx, "docker", append(kind, "--format", "{{.Name}}")...).Output()
		if err != nil {
			return nil, fmt.Errorf("docker %s: %w", strings.Join(kind, " "), err)
		}
		for _, name := range strings.Fields(string(out)) {
			if kind[0] == "network" && name == "ingress" {
				continue
			}
			found = append(found, kind[0]+"/"+name)
		}
	}
	return found, nil
}
