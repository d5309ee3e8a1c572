package stack

import (
	"slices"
	"testing"
)

func TestSwarmUp(t *testing.T) {
	for _, c := range []struct {
		name       string
		target     string
		node       swarmNode
		initialise bool
		fails      bool
	}{
		{"docker target leaves the engine alone", TargetDocker, swarmNode{State: "inactive"}, false, false},
		{"docker target beside an active swarm", TargetDocker, swarmNode{State: "active", Manager: true}, false, false},
		{"swarm target, no swarm: init", TargetSwarm, swarmNode{State: "inactive"}, true, false},
		{"swarm target on a manager: use it", TargetSwarm, swarmNode{State: "active", Manager: true, NodeID: "n1"}, false, false},
		{"swarm target on a worker node: refuse", TargetSwarm, swarmNode{State: "active", Manager: false}, false, true},
		{"swarm target, swarm locked: refuse", TargetSwarm, swarmNode{State: "locked"}, false, true},
		{"swarm target, joining: refuse", TargetSwarm, swarmNode{State: "pending"}, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			init, err := swarmUp(c.target, c.node)
			if init != c.initialise || (err != nil) != c.fails {
				t.Errorf("swarmUp(%q, %+v) = %v, %v; want init %v, error %v", c.target, c.node, init, err, c.initialise, c.fails)
			}
		})
	}
}

func TestSwarmDown(t *testing.T) {
	ours := &swarmRecord{NodeID: "n1", For: "swarm"}
	active := swarmNode{State: "active", Manager: true, NodeID: "n1"}
	for _, c := range []struct {
		name          string
		rec           *swarmRecord
		node          swarmNode
		others        []string
		leave, forget bool
	}{
		{"not initialised by the driver: stays", nil, active, nil, false, false},
		{"ours and empty: leave", ours, active, nil, true, true},
		{"ours but another environment's service: stays", ours, active, []string{"service/calcgrid-other-api"}, false, false},
		{"ours but someone's secret: stays", ours, active, []string{"secret/x"}, false, false},
		{"ours but a container runs on a bridge network (leave breaks its DNS): stays", ours, active, []string{"container/calcgrid-dev-api-1"}, false, false},
		{"swarm already left: forget the record", ours, swarmNode{State: "inactive"}, nil, false, true},
		{"another swarm since (new node ID): not ours to leave", ours, swarmNode{State: "active", Manager: true, NodeID: "n2"}, nil, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			leave, forget := swarmDown(c.rec, c.node, slices.Clone(c.others))
			if leave != c.leave || forget != c.forget {
				t.Errorf("swarmDown = leave %v, forget %v; want %v, %v", leave, forget, c.leave, c.forget)
			}
		})
	}
}
