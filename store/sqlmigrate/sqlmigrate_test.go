package sqlmigrate

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("B")},
		"m/0001_a.sql": {Data: []byte("A")},
		"m/notes.txt":  {Data: []byte("x")},
	}
	ms, latest, err := Load(fsys, "m/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if latest != 2 || len(ms) != 2 || ms[0] != (Migration{1, "0001_a.sql", "A"}) || ms[1] != (Migration{2, "0002_b.sql", "B"}) {
		t.Fatalf("Load = %+v, %d", ms, latest)
	}
}

func TestLoadEmpty(t *testing.T) {
	ms, latest, err := Load(fstest.MapFS{}, "m/*.sql")
	if err != nil || ms != nil || latest != 0 {
		t.Fatalf("Load = %v, %d, %v", ms, latest, err)
	}
}

func TestLoadRejects(t *testing.T) {
	for _, tt := range []struct {
		files []string
		want  string
	}{
		{[]string{"m/x_a.sql"}, "bad version"},
		{[]string{"m/0001_a.sql", "m/01_b.sql"}, "repeats or goes back"},
		{[]string{"m/0001_a.sql", "m/0002_b.sql", "m/2_c.sql"}, "repeats or goes back"},
	} {
		fsys := fstest.MapFS{}
		for _, f := range tt.files {
			fsys[f] = &fstest.MapFile{}
		}
		if _, _, err := Load(fsys, "m/*.sql"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v) = %v, want %q", tt.files, err, tt.want)
		}
	}
}
