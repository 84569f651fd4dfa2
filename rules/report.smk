# Figures of a density area: the map beside the inventory's truth over the DEM's hillshade with the
# heads, the map experiment's confusion matrix, an example chip, training curves, the AUC grid.


rule density_figures:
    input:
        map=rules.density_map.output.gpkg,
        cube=rules.assemble_cube.output.zarr,
        chips=rules.make_chips.output.zarr,
        choice=rules.choose_density_map.output.choice,
        confusion=lambda w: [
            density_map_choice(w.area).path(w.area, "metrics_confusion.csv")
        ],
        # the example chip's net output: the map's net, or the best validated net
        embeddings=lambda w: [
            density_map_choice(w.area, "net").path(w.area, f"half{h}/embeddings.zarr")
            for h in HALVES
        ],
        metrics=rules.density_table.output.csv,
        histories=lambda w: list(density_histories(w.area).values()),
    output:
        map=report(
            "results/{area}/report/map_vs_truth.png",
            caption="../report/map_vs_truth.rst",
            category="Density",
            subcategory="{area}",
            labels={"area": "{area}", "result": "density map vs truth"},
        ),
        confusion=report(
            "results/{area}/report/confusion_matrix.png",
            caption="../report/confusion_matrix.rst",
            category="Density",
            subcategory="{area}",
            labels={"area": "{area}", "result": "confusion matrix"},
        ),
        chip=report(
            "results/{area}/report/example_chip.png",
            caption="../report/example_chip.rst",
            category="Density",
            subcategory="{area}",
            labels={"area": "{area}", "result": "example chips"},
        ),
        curves=report(
            "results/{area}/report/training_curves.png",
            caption="../report/training_curves.rst",
            category="Density",
            subcategory="{area}",
            labels={"area": "{area}", "result": "training curves"},
        ),
        grid=report(
            "results/{area}/report/density_grid.png",
            caption="../report/density_grid.rst",
            category="Density",
            subcategory="{area}",
            labels={"area": "{area}", "result": "AUC grid"},
        ),
    log:
        "logs/{area}/density_figures.log",
    benchmark:
        "benchmarks/{area}/density_figures.tsv"
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        class_edges=config["chips"]["density_class_edges_per_km2"],
        # "<experiment id> half<h>" -> its history.csv: the same files as the input
        histories=lambda w: density_histories(w.area),
    message:
        "Figures of {wildcards.area}"
    script:
        "../workflow_scripts/density_figures.py"
