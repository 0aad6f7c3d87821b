import random, json, subprocess, sys, os
R=os.environ.get("RUST_RENDER", os.path.join(os.environ.get("CARGO_TARGET_DIR","target"),"debug/examples/render_jsonl")); G=os.environ.get("GO_ORACLE","/tmp/go-oracle")
rnd=random.Random(int(sys.argv[1]) if len(sys.argv)>1 else 1)
N=int(sys.argv[2]) if len(sys.argv)>2 else 2000
D={"s":"hello","n":3,"f":1.5,"big":1000000.0,"l":[1,"two",3.5,None],"m":{"a":1,"b":{"c":"x"}},"z":None,"e":"","t":True,"fl":3.0,"ls":["b","a"],"neg":-2}
fields=[".s",".n",".f",".big",".l",".m",".m.a",".m.b",".m.b.c",".z",".e",".t",".fl",".ls",".neg",".missing",".m.q",".","$"]
lits=['"x"','"a b"',"1","0","-1","2.5","true","false","nil","'a'","0x1f","1e3","`raw`",'""']
fns1=["len","not","print","println","html","js","urlquery","upper","lower","quote","squote","toString","toJson","b64enc","trim","title","first","last","rest","initial","reverse","uniq","compact","keys","toStrings","sortAlpha","empty","typeOf","kindOf","int","float64","int64","add1","toYaml","len","sha1sum","default 5","index","printf \"%v\"","printf \"%d\"","printf \"%s\"","printf \"%q\"","printf \"%5.1f\"","printf \"%x\"","printf \"%T\""]
fns2=["eq","ne","lt","le","gt","ge","and","or","add","sub","mul","div","mod","max","min","index","slice","default","coalesce","list","dict","append","has","without","contains","hasPrefix","repeat","trunc","indent","nindent","join","split","splitList","replace \"l\"","ternary \"y\"","set (dict)","get","hasKey","pluck","merge","concat","until","seq","atoi","substr 1","abbrev","wrap","semverCompare \">1\"","regexMatch","mulf","addf","divf","round","floor","ceil"]
def arg(d=0):
    r=rnd.random()
    if r<0.45: return rnd.choice(fields)
    if r<0.75 or d>2: return rnd.choice(lits)
    return "("+pipe(d+1)+")"
def cmd(d=0):
    r=rnd.random()
    if r<0.3: return arg(d)
    if r<0.6: return rnd.choice(fns1)+" "+arg(d)
    return rnd.choice(fns2)+" "+arg(d)+" "+arg(d)
def pipe(d=0):
    p=cmd(d)
    for _ in range(rnd.choice([0,0,0,1,1,2])):
        p+=" | "+rnd.choice(fns1+fns2)+("" if rnd.random()<0.5 else " "+arg(d))
    return p
def act(d=0):
    r=rnd.random()
    lt=rnd.choice(["{{","{{- ","{{ "]); rt=rnd.choice(["}}"," -}}"," }}"])
    if d>2 or r<0.5: return lt+pipe()+rt
    body=lambda: "".join(node(d+1) for _ in range(rnd.randint(0,3)))
    if r<0.6: return "{{if "+pipe()+"}}"+body()+("{{else}}"+body() if rnd.random()<0.5 else "")+"{{end}}"
    if r<0.7: return "{{range "+rnd.choice(["","$v := ","$i, $v := "])+pipe()+"}}"+body()+("{{else}}"+body() if rnd.random()<0.3 else "")+"{{end}}"
    if r<0.8: return "{{with "+pipe()+"}}"+body()+"{{end}}"
    if r<0.9: return "{{$x := "+pipe()+"}}"+body()+"{{$x}}"
    return "{{/* c */}}"
def node(d=0):
    return rnd.choice([" ","a","\n","  x ",""])+act(d)
import os
reqs=[{"t":"".join(node() for _ in range(rnd.randint(1,3))),"d":D,"m":os.environ.get("MISSINGKEY","")} for _ in range(N)]
def run(c):
    p=subprocess.run([c],input="\n".join(json.dumps(r) for r in reqs)+"\n",capture_output=True,text=True,timeout=600)
    return [json.loads(l) for l in p.stdout.splitlines()]
g=run(G); r=run(R)
bad=0; seen=set()
for q,a,b in zip(reqs,g,r):
    if a['err'] and b['err']: a=dict(a,out=''); b=dict(b,out='')
    if a!=b and (not a["err"] or not b["err"] or "ONLYOUT" not in sys.argv):
        bad+=1
        key=(a["err"][a["err"].find(">:"):][:50] if a["err"] else "OUT", b["err"][b["err"].find(">:"):][:50] if b["err"] else "OUT")
        if key in seen: continue
        seen.add(key)
        print("T", repr(q["t"])); print("  go", a); print("  rs", b)
print(f"{N-bad}/{N} identical; {len(g)} {len(r)}")
