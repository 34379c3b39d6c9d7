from django.apps import AppConfig


class BenchFloorsConfig(AppConfig):
    name = "rightscare.benchfloors"
    label = "benchfloors"
    verbose_name = "Benchmark floors"
