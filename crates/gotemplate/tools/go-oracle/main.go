package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

type req struct {
	T       string      `json:"t"`
	D       interface{} `json:"d"`
	Missing string      `json:"m"`
}
type resp struct {
	Out string `json:"out"`
	Err string `json:"err"`
}

func run(r req) (res resp) {
	defer func() {
		if p := recover(); p != nil {
			res.Err = fmt.Sprintf("PANIC %v", p)
		}
	}()
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	t := template.New("t").Funcs(f)
	if r.Missing != "" {
		t = t.Option("missingkey=" + r.Missing)
	}
	t, err := t.Parse(r.T)
	if err != nil {
		return resp{Err: err.Error()}
	}
	var b bytes.Buffer
	err = t.Execute(&b, r.D)
	res.Out = b.String()
	if err != nil {
		res.Err = err.Error()
	}
	return
}

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	enc := json.NewEncoder(os.Stdout)
	for sc.Scan() {
		var r req
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		if err := d.Decode(&r); err != nil {
			enc.Encode(resp{Err: "BADREQ " + err.Error()})
			continue
		}
		r.D = fix(r.D)
		enc.Encode(run(r))
	}
}

// fix turns json.Number into int (if integral without '.') or float64, like the Rust side's from_json.
func fix(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]interface{}:
		for k, e := range x {
			x[k] = fix(e)
		}
		return x
	case []interface{}:
		for i, e := range x {
			x[i] = fix(e)
		}
		return x
	}
	return v
}
