from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Counter",
            fields=[
                ("key", models.CharField(max_length=200, primary_key=True, serialize=False)),
                ("slot", models.BigIntegerField()),
                ("expires_at", models.BigIntegerField()),
                ("count", models.BigIntegerField()),
            ],
        ),
    ]
