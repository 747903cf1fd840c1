#!/usr/bin/env python3
# Prints the import graph between the top-level modules of src/ (test-only
# code left out) and the loops in it: `python3 scripts/module-loops.py`.
import os,re,sys,collections
root='src'
mods={}
for d in os.listdir(root):
    p=os.path.join(root,d)
    name=d[:-3] if d.endswith('.rs') else d
    if name in ('lib','main'): continue
    mods[name]=p
edges=collections.defaultdict(set)
testonly=set()
for dp,_,fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        t=open(os.path.join(dp,f)).read()
        base=dp if f in ('mod.rs','lib.rs') else os.path.join(dp,f[:-3])
        for m in re.findall(r'#\[cfg\(test\)\]\s*(?:pub )?mod ([a-z_]+);',t):
            testonly.add(os.path.join(base,m+'.rs')); testonly.add(os.path.join(base,m))
for name,p in mods.items():
    files=[]
    if os.path.isdir(p):
        for dp,_,fs in os.walk(p):
            files+= [os.path.join(dp,f) for f in fs if f.endswith('.rs')]
    else: files=[p]
    if os.path.isdir(p)==False and os.path.isdir(p[:-3]):
        pass
    if os.path.isdir(os.path.join(root,name)) and p.endswith('.rs'):
        pass
    for f in files:
        if f.endswith('tests.rs') or '/tests/' in f or any(f==x or f.startswith(x+'/') for x in testonly): continue
        txt='\n'.join(l for l in open(f).read().split('\n') if not l.strip().startswith('//'))
        # strip test modules roughly
        cut=txt.find('#[cfg(test)]')
        if cut>=0: txt=txt[:cut]
        for m in re.findall(r'crate::([a-z_]+)',txt):
            if m!=name and m in mods: edges[name].add(m)
# llm.rs + llm/ dir
for a in sorted(edges): print(a,'->',' '.join(sorted(edges[a])))
# cycles via SCC
index={};low={};st=[];on=set();res=[];i=[0]
def sc(v):
    index[v]=low[v]=i[0];i[0]+=1;st.append(v);on.add(v)
    for w in edges[v]:
        if w not in index: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(comp)
sys.setrecursionlimit(10000)
for v in list(mods):
    if v not in index: sc(v)
print('CYCLES:',res)
