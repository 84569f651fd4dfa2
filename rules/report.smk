# Figures: the density map beside the inventory's truth, an example chip, training curves.


rule report:
    input:
        map=rules.density_map.output.gpkg,
        chips=rules.make_chips.output.zarr,
        embeddings=expand(
            "results/{{area}}/density/{inputs}_r{revisits}/half{half}/embeddings.zarr",
            inputs=config["density"]["map"]["inputs"],
            revisits=config["density"]["map"]["revisits"],
            half=[0, 1],
        ),
        histories=lambda w: [
            f"results/{w.area}/density/{i}_r{r}/half{h}/history.csv"
            for i, r in density_experiments()
            for h in (0, 1)
        ],
    output:
        map=report(
            "results/{area}/report/map_vs_truth.png",
            caption="../report/map_vs_truth.rst",
            category="Density",
        ),
        chip=report(
            "results/{area}/report/example_chip.png",
            caption="../report/example_chip.rst",
            category="Density",
        ),
        curves=report(
            "results/{area}/report/training_curves.png",
            caption="../report/training_curves.rst",
            category="Density",
        ),
    log:
        "logs/{area}/report.log",
    benchmark:
        "benchmarks/{area}/report.tsv"
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    message:
        "Figures of {wildcards.area}"
    script:
        "../workflow_scripts/report.py"
