package taskstore

import "testing"

func TestParseMemory(t *testing.T) {
	m, err := parseMemory("# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:4194304\r\nmaxmemory_human:4.00M\r\n")
	if err != nil || m.Used != 1<<20 || m.Max != 4<<20 || m.Ratio() != 0.25 {
		t.Errorf("parseMemory: %+v, %v", m, err)
	}
	if m, err := parseMemory("used_memory:5\r\nmaxmemory:0\r\n"); err != nil || m.Ratio() != 0 {
		t.Errorf("no maxmemory: ratio %v (%v), want 0 (no admission limit)", m.Ratio(), err)
	}
	if _, err := parseMemory("used_memory:5\r\n"); err == nil {
		t.Error("parseMemory without maxmemory: no error")
	}
}
