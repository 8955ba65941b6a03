"""The evaluations: a frozen backbone in, the paper's tables, figures and verdicts out. One module
per concern, flat, in the order the data flows (``python -m evaluations`` only parses arguments
and calls them; one subcommand per Snakemake rule):

probes (a backbone -> one JSON per run and task)
    linear_probe    Fig. 2's linear probe, each method's official protocol
    features        frozen-feature extraction the probes share
    transfer/       Table 1's linear transfer (datasets, stand-ins, features cache, logistic protocol)
    dense/          Table 2's Detectron2 fine-tuning (optional)
    cosine_study    Sec. 3's mean cosine of common vs strong views under a trained encoder

results (the JSONs -> metrics.csv, the one table every artifact reads)
    results         aggregate, read, group and label metrics.csv
    arch_stand_ins  which of our architectures a paper architecture's row reads

verdicts (metrics.csv -> what the runs say about the paper's claims)
    stats           intervals over seed pairs, power, probability of improvement, val-set noise
    claims          the claims table: published beside ours, a verdict per claim
    compare         a rerun against a committed reference (compare-reference)
    interim         the tables of a profile built in parts, from the runs finished so far
    snapshot        a finished profile copied as a reference, with what made it (MANIFEST.json)

artifacts (tables and figures, from metrics.csv or the claims table)
    fig2, table1 (+ Fig. 4), table2, sensitivity (Figs. 5-6), forest, curves, augment_figure (Fig. 3),
    formatting      what they share: LaTeX cells, writing a table or a byte-stable figure
"""
