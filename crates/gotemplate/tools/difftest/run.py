import json, subprocess, sys, os
R=os.environ.get("RUST_RENDER", os.path.join(os.environ.get("CARGO_TARGET_DIR","target"),"debug/examples/render_jsonl"))
G=os.environ.get("GO_ORACLE","/tmp/go-oracle")
def run(cmd, reqs):
    p=subprocess.run([cmd], input="\n".join(json.dumps(r) for r in reqs)+"\n", capture_output=True, text=True, timeout=120)
    return [json.loads(l) for l in p.stdout.splitlines()]
def main(path):
    reqs=[]
    for line in open(path):
        line=line.rstrip("\n")
        if not line or line.startswith("#"): continue
        if "\t" in line:
            t,d=line.split("\t",1); d=json.loads(d)
        else:
            t,d=line,{"s":"hello","n":3,"f":1.5,"big":1000000.0,"l":[1,"two",3.5,None],"m":{"a":1,"b":{"c":"x"}},"z":None,"e":"","t":True,"fl":3.0}
        t=t.replace("\\n","\n")
        reqs.append({"t":t,"d":d,"m":os.environ.get("MISSINGKEY","")})
    g=run(G,reqs); r=run(R,reqs)
    bad=0
    for q,a,b in zip(reqs,g,r):
        if a['err'] and b['err']: a=dict(a,out=''); b=dict(b,out='')
        if a!=b:
            bad+=1
            print("TEMPLATE", repr(q["t"]))
            print("   go:", a)
            print("   rs:", b)
    print(f"{len(reqs)-bad}/{len(reqs)} identical")
main(sys.argv[1])
